"""Where file bytes live: the configured Django storage, under names the server makes up.

A stored name is `<folder>/<yyyy>/<mm>/<dd>/<32 random hex digits>` (a thumbnail adds
`.thumb.jpg` or `.thumb.png`): nothing a client sent is part of it.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable
from typing import IO

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.utils import timezone

from messenger.errors import NotFound

logger = logging.getLogger(__name__)

UPLOADS = "files"
PREVIEWS = "previews"
THUMBNAIL_TYPES = {".thumb.jpg": "image/jpeg", ".thumb.png": "image/png"}


def file_storage() -> Storage:
    return storages[settings.MESSENGER_FILES["STORAGE"]]


def new_storage_name(*, folder: str) -> str:
    """A fresh random name in today's folder."""
    return f"{folder}/{timezone.localdate():%Y/%m/%d}/{uuid.uuid4().hex}"


def _missing(name: str, why: str) -> NotFound:
    logger.error("stored file %s %s", name, why)
    return NotFound("The file is missing from storage; tell an administrator.")


def local_path(name: str) -> str | None:
    """The path of a stored name on a local file system storage (None for remote storages).

    Refuses (as missing, and logged) a name whose path leaves the storage's folder or passes
    through a symbolic link below it: a stored file replaced by a link to /etc/passwd or to
    another user's file is never served, by the app or by a web server it hands the path to.
    """
    storage = file_storage()
    try:
        path = storage.path(name)
    except NotImplementedError:
        return None
    except SuspiciousFileOperation:
        raise _missing(name, "has a name outside the storage folder") from None
    location = os.path.abspath(storage.location)  # type: ignore[attr-defined]
    # Where the file is when nothing below the folder is a link (the folder itself may be one).
    expected = os.path.join(os.path.realpath(location), os.path.relpath(path, location))
    real = os.path.realpath(path)
    if real != expected:
        raise _missing(name, "is a symbolic link or leaves the storage folder")
    if not os.path.isfile(real):
        raise _missing(name, "is missing from storage")
    return real


def open_stored(name: str) -> IO[bytes]:
    """Open a stored file for reading, without following a link swapped in at the last moment."""
    path = local_path(name)
    if path is None:
        try:
            return file_storage().open(name, "rb")
        except FileNotFoundError:
            raise _missing(name, "is missing from storage") from None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise _missing(name, "could not be opened") from None
    return os.fdopen(fd, "rb")


def stored_size(name: str) -> int:
    """The size of a stored file the database does not record (thumbnails, preview images)."""
    path = local_path(name)
    try:
        return os.path.getsize(path) if path else file_storage().size(name)
    except FileNotFoundError:
        raise _missing(name, "is missing from storage") from None


def thumbnail_name_for(storage_name: str, *, mime: str) -> str:
    suffix = next(s for s, m in THUMBNAIL_TYPES.items() if m == mime)
    return storage_name + suffix


def thumbnail_mime(thumbnail_name: str) -> str:
    for suffix, mime in THUMBNAIL_TYPES.items():
        if thumbnail_name.endswith(suffix):
            return mime
    return "application/octet-stream"


def save_exactly(name: str, content: File | bytes) -> None:
    """Write content under exactly this name (the name was recorded before the write)."""
    if isinstance(content, bytes):
        content = ContentFile(content)
    saved = file_storage().save(name, content)
    if saved != name:
        # Only possible if a random 128-bit name was already taken: never keep a stray copy.
        file_storage().delete(saved)
        raise RuntimeError(f"storage renamed {name} to {saved}")


def delete_quietly(names: Iterable[str]) -> int:
    """Delete stored files, logging (not raising) failures; returns how many were deleted."""
    storage = file_storage()
    deleted = 0
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
            deleted += 1
        except OSError:
            logger.exception("could not delete stored file %s", name)
    return deleted
