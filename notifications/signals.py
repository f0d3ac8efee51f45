"""Queue the notification of a new message once it commits.

A signal rather than a call in messages.services: messages sits below notifications and must
not import it (ARCHITECTURE.md, "Layering"); REST, socket and file sends all land here."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from messages.models import Message
from notifications.rules import SYSTEM_TYPES
from notifications.tasks import message_notify


@receiver(post_save, sender=Message, dispatch_uid="notifications.queue_message_notify")
def queue_message_notify(sender: Any, instance: Message, created: bool, **kwargs: Any) -> None:
    if not created or not settings.NOTIFICATIONS["ENABLED"]:
        return
    if instance.sender_id is None or instance.type in SYSTEM_TYPES:
        return
    message_pk = instance.pk
    transaction.on_commit(lambda: message_notify.delay(message_pk), robust=True)
