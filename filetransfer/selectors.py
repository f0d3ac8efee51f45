"""Reads about stored files. Access to a file is access to its message: a present member of
the room who joined before the message was sent."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Sum

from filetransfer.errors import FileExpired
from filetransfer.models import FileLog, LinkPreview
from messages import selectors as message_selectors
from messages.models import Message
from messages.services import FILE_TYPES
from messenger.errors import InvalidInput, NotFound
from orgsync.models import User


def _parse_id(value: Any, *, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a message id (a UUID).") from None


def file_for_member(*, user: User, msg_id: Any, field: str = "msg_id") -> FileLog:
    """The stored file of a message the user may see, or NotFound / FileExpired.

    Strangers, members who left and members who joined after the message are answered as for
    an unknown message (messages.selectors.message_for_member).
    """
    message, _member = message_selectors.message_for_member(
        user=user, msg_id=_parse_id(msg_id, field=field), related=("room",)
    )
    if message.type not in FILE_TYPES:
        raise NotFound("This message has no file.")
    if message.state == Message.State.CANCELLED:
        raise NotFound("This message was cancelled.")
    log = FileLog.objects.select_related("message").filter(message=message).first()
    if log is None:
        raise NotFound("This message has no file.")
    if message.state == Message.State.EXPIRED or log.state != FileLog.State.STORED:
        raise FileExpired()
    return log


def file_quota_used(*, user_pk: int) -> int:
    """Bytes of the user's unexpired uploads (forwards share bytes and do not count)."""
    total = FileLog.objects.filter(
        sender_id=user_pk,
        source__isnull=True,
        state__in=(FileLog.State.PENDING, FileLog.State.STORED),
    ).aggregate(total=Sum("size"))["total"]
    return int(total or 0)


def link_preview_image(*, token: Any) -> LinkPreview:
    """A link preview with an image, by the random token its card names."""
    try:
        token_uuid = uuid.UUID(str(token))
    except (TypeError, ValueError):
        raise NotFound("No such preview image.") from None
    preview = (
        LinkPreview.objects.filter(token=token_uuid, status=LinkPreview.Status.OK)
        .exclude(image_name="")
        .first()
    )
    if preview is None:
        raise NotFound("No such preview image.")
    return preview
