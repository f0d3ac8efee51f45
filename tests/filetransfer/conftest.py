"""Fixtures of the file transfer tests: media in a temporary folder, real images and videos
made on the spot, and multipart bodies written by hand (so file names reach the server exactly
as a hostile client would send them)."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import uuid
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image

from filetransfer.models import FileLog


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    """MEDIA_ROOT in a folder of this test's own."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


def stored_files(root: Path) -> list[Path]:
    """Every file under a folder, relative to it, sorted."""
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def png(
    width: int = 64, height: int = 48, color: tuple[int, ...] = (200, 30, 30), mode: str = "RGB"
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg_rotated(width: int = 80, height: int = 40) -> bytes:
    """A JPEG whose left half is red and right half blue, with EXIF orientation 6 (display
    rotated 90 degrees clockwise), a camera make and a GPS position."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    exif[0x8825] = {1: "N", 2: (37.0, 33.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def gif_two_frames() -> bytes:
    """An animated GIF: a red frame, then a blue one."""
    red = Image.new("RGB", (40, 40), (255, 0, 0))
    blue = Image.new("RGB", (40, 40), (0, 0, 255))
    out = io.BytesIO()
    red.save(out, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    return out.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A real, valid 1-bit PNG of width x height black pixels: tiny on disk, huge in memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


HAS_FFMPEG = shutil.which("ffmpeg") is not None


def mp4(tmp_path: Path) -> bytes:
    """A one-second 160x120 MP4 made by ffmpeg's test source."""
    out = tmp_path / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=160x120:rate=10",
            "-pix_fmt",
            "yuv420p",
            "-y",
            str(out),
        ],
        check=True,
        timeout=60,
    )
    return out.read_bytes()


def multipart(
    files: Iterable[tuple[bytes | str, bytes]],
    msg_ids: Iterable[str] = (),
    *,
    field: str = "files",
    content_type: str = "application/octet-stream",
) -> tuple[bytes, str]:
    """A multipart/form-data body with the file names put in byte for byte."""
    boundary = f"----mtest{uuid.uuid4().hex}"
    parts = []
    for msg_id in msg_ids:
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="msg_ids"\r\n\r\n{msg_id}\r\n'.encode()
        )
    for name, content in files:
        raw_name = name.encode("utf-8") if isinstance(name, str) else name
        parts.append(
            f"--{boundary}\r\n".encode()
            + f'Content-Disposition: form-data; name="{field}"; filename="'.encode()
            + raw_name
            + f'"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def upload(api) -> Callable[..., Any]:
    """POST files to a room as a user: upload(user, room_id, [(name, bytes)], msg_ids=None)."""

    def post(user, room_id: int, files: list[tuple[bytes | str, bytes]], msg_ids=None, **kw):
        ids = msg_ids if msg_ids is not None else [new_id() for _ in files]
        body, content_type = multipart(files, ids, **kw)
        return api(user).post(
            reverse("room-files", kwargs={"room_id": room_id}), data=body, content_type=content_type
        )

    return post


def only_log(msg_id: str) -> FileLog:
    return FileLog.objects.select_related("message").get(message__msg_id=msg_id)
