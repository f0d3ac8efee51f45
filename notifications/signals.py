"""Queue the notification of new messages once they commit.

A signal rather than a call in messages.services: messages sits below notifications and must
not import it (ARCHITECTURE.md, "Layering"); REST, socket and file sends all land here. A
batch of messages stored together (a socket's queued sends) is one task."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.dispatch import receiver

from messages.models import Message
from messages.signals import messages_appended
from messenger.outage import queue_on_commit
from notifications.rules import SYSTEM_TYPES
from notifications.tasks import message_notify


@receiver(messages_appended, dispatch_uid="notifications.queue_message_notify")
def queue_message_notify(sender: Any, messages: list[Message], **kwargs: Any) -> None:
    if not settings.NOTIFICATIONS["ENABLED"]:
        return
    pks = [m.pk for m in messages if m.sender_id is not None and m.type not in SYSTEM_TYPES]
    if pks:
        queue_on_commit(
            message_notify,
            pks,
            part="notifications",
            consequence="new messages are not notified",
        )
