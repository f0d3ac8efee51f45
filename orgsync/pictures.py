"""Profile pictures: what an upload must be, and the one form every stored picture has.

The kind of image is read from its bytes, never from the file name or the client's content
type. Every picture is stored as a square JPEG of PROFILE_PICTURE["SIZE"] pixels, re-encoded
from the pixels alone, so no metadata of the original (EXIF with GPS, camera, comments, ICC)
survives.
"""

from __future__ import annotations

import io
import warnings

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from messenger.errors import InvalidInput, TooLarge

ALLOWED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
NOT_AN_IMAGE = "The file is not a JPEG, PNG, GIF or WebP image."
CONTENT_TYPE = "image/jpeg"
JPEG_QUALITY = 85


def picture_check_size(*, size: int) -> None:
    """Refuse an upload larger than PROFILE_PICTURE["MAX_BYTES"] before reading it."""
    limit = settings.PROFILE_PICTURE["MAX_BYTES"]
    if size > limit:
        raise TooLarge(f"A profile picture may have at most {limit // (1024 * 1024)} MiB.")
    if size == 0:
        raise InvalidInput("The file is empty.")


def picture_normalize(*, data: bytes) -> bytes:
    """The uploaded bytes as a square JPEG without metadata, or InvalidInput if not an image."""
    picture_check_size(size=len(data))
    max_pixels = settings.PROFILE_PICTURE["MAX_PIXELS"]
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: the size is checked
            # here instead, before any pixel is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ALLOWED_FORMATS:
                    raise InvalidInput(NOT_AN_IMAGE)
                width, height = probe.size
                if width * height > max_pixels:
                    raise InvalidInput(
                        f"The image has {width}x{height} pixels; at most {max_pixels:,} are "
                        "accepted."
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                picture = ImageOps.exif_transpose(image)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        # Pillow reports truncated and corrupt files with any of these.
        raise InvalidInput(NOT_AN_IMAGE) from exc
    if picture.mode in ("RGBA", "LA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        picture = flat
    else:
        picture = picture.convert("RGB")
    side = settings.PROFILE_PICTURE["SIZE"]
    square = ImageOps.fit(picture, (side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    square.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
