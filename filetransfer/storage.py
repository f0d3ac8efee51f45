"""Where file bytes live: the configured Django storage, under names the server makes up.

A stored name is `<folder>/<yyyy>/<mm>/<dd>/<32 random hex digits>` (a thumbnail adds
`.thumb.jpg` or `.thumb.png`): nothing a client sent is part of it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.utils import timezone

logger = logging.getLogger(__name__)

UPLOADS = "files"
PREVIEWS = "previews"
THUMBNAIL_TYPES = {".thumb.jpg": "image/jpeg", ".thumb.png": "image/png"}


def file_storage() -> Storage:
    return storages[settings.MESSENGER_FILES["STORAGE"]]


def new_storage_name(*, folder: str) -> str:
    """A fresh random name in today's folder."""
    return f"{folder}/{timezone.localdate():%Y/%m/%d}/{uuid.uuid4().hex}"


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
