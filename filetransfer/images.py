"""Thumbnails: images through Pillow, video posters through ffmpeg when it is installed.

A thumbnail is drawn from the decoded pixels into a fresh image, so no metadata of the upload
(EXIF, GPS, comments, ICC) survives in it; the EXIF orientation is applied first, and an
animated image gives its first frame. Dimensions are checked from the header before any pixel
is decoded, so a decompression bomb is refused without being decompressed.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO

from PIL import ExifTags, Image, ImageOps

from filetransfer.errors import ImageTooLarge

logger = logging.getLogger(__name__)

PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP"}
# Orientations that swap width and height (rotated by 90 or 270 degrees).
TRANSPOSED = {5, 6, 7, 8}
# What Pillow raises on broken or hostile input it cannot decode.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)


@dataclass(frozen=True)
class Picture:
    """What an image or a video's first frame looks like: displayed size and a clean thumbnail."""

    width: int
    height: int
    thumbnail: bytes
    thumbnail_mime: str


def picture_from_image(
    stream: IO[bytes], *, kind: str, max_pixels: int, thumb_px: int
) -> Picture | None:
    """Decode an image: None when Pillow cannot (the upload is then kept as a plain file),
    ImageTooLarge when it has more than max_pixels pixels."""
    stream.seek(0)
    try:
        with Image.open(stream, formats=[PILLOW_FORMATS[kind]]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge(
                    f"The image is {width} x {height} pixels; at most {max_pixels:,} pixels "
                    "are accepted."
                )
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            if orientation in TRANSPOSED:
                width, height = height, width
            if image.format == "JPEG":
                # Let the decoder scale down by 2-8x while decoding: less memory and time.
                image.draft("RGB", (thumb_px * 2, thumb_px * 2))
            image.load()
            return Picture(width, height, *_thumbnail(image, thumb_px))
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(f"The image has too many pixels ({error}).") from None
    except DECODE_ERRORS as error:
        logger.info("%s image not decodable, kept as a file: %s", kind, type(error).__name__)
        return None


def _thumbnail(image: Image.Image, thumb_px: int) -> tuple[bytes, str]:
    upright = ImageOps.exif_transpose(image)
    alpha = upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    frame = upright.convert("RGBA" if alpha else "RGB")
    frame.thumbnail((thumb_px, thumb_px), Image.Resampling.LANCZOS)
    # A new image from the raw pixels carries no info dict: no EXIF, ICC, XMP or comments.
    clean = Image.frombytes(frame.mode, frame.size, frame.tobytes())
    out = io.BytesIO()
    if alpha:
        clean.save(out, "PNG", optimize=True)
        return out.getvalue(), "image/png"
    clean.save(out, "JPEG", quality=82, optimize=True, progressive=True)
    return out.getvalue(), "image/jpeg"


def ffmpeg_path(configured: str) -> str | None:
    """The ffmpeg executable to use, or None when none is configured or installed."""
    return shutil.which(configured) if configured else None


def picture_from_video(
    path: str, *, ffmpeg: str, timeout: int, max_pixels: int, thumb_px: int
) -> Picture | None:
    """The first frame of an MP4/QuickTime video as a Picture, or None without ffmpeg or when
    ffmpeg cannot read the video (the upload is then a plain file card)."""
    executable = ffmpeg_path(ffmpeg)
    if executable is None:
        return None
    with tempfile.TemporaryDirectory(prefix="poster-") as folder:
        poster = os.path.join(folder, "poster.png")
        command = [
            executable,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            # Only the MP4/QuickTime demuxer and local files: a crafted upload cannot make
            # ffmpeg read a playlist or open a network address.
            "-protocol_whitelist",
            "file",
            "-f",
            "mov",
            "-i",
            "file:" + path,
            "-frames:v",
            "1",
            "-an",
            "-sn",
            "-y",
            poster,
        ]
        try:
            # The command is fixed and the input is a server-made temporary path.
            done = subprocess.run(  # noqa: S603
                command, capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            logger.warning("ffmpeg took more than %s s for a poster frame", timeout)
            return None
        if done.returncode != 0 or not os.path.exists(poster):
            logger.info("ffmpeg made no poster frame (exit %s)", done.returncode)
            return None
        with open(poster, "rb") as frame:
            return picture_from_image(frame, kind="png", max_pixels=max_pixels, thumb_px=thumb_px)
