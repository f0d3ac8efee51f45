"""Typed errors of file transfer; REST and the socket render them as {"error": {code, message}}."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from messenger.errors import ApplicationError, TooLarge


def human_size(size: int) -> str:
    """A size for people, in the units the limits are given in (1 MB = 1024 * 1024 bytes)."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


class FileTooLarge(TooLarge):
    code = "too_large"
    message = _("The file is too large.")


class TooManyFiles(TooLarge):
    code = "too_many_files"
    message = _("Too many files in one request.")


class QuotaExceeded(TooLarge):
    code = "quota_exceeded"
    message = _("Your files would use more than your storage quota.")


class ImageTooLarge(TooLarge):
    code = "image_too_large"
    message = _("The image has too many pixels.")


class FileTypeRefused(ApplicationError):
    status = 415
    code = "unsupported_type"
    message = _("This type of file is not accepted.")


class FileExpired(ApplicationError):
    status = 410
    code = "expired"
    message = _("This file has expired and was deleted.")


class RangeNotSatisfiable(ApplicationError):
    status = 416
    code = "range_not_satisfiable"
    message = _("The requested range is outside the file.")
