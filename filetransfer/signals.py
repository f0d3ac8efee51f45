"""Queue a link preview when a talk message with a URL is stored.

A signal rather than a call in messages.services: messages sits below filetransfer and must
not import it (ARCHITECTURE.md, "Layering"), and the REST and socket sends both land here.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from filetransfer import services
from filetransfer.tasks import link_preview
from messages.models import Message


@receiver(post_save, sender=Message, dispatch_uid="filetransfer.queue_link_preview")
def queue_link_preview(sender: Any, instance: Message, created: bool, **kwargs: Any) -> None:
    if not created or not services.link_preview_wanted(instance):
        return
    message_pk = instance.pk
    transaction.on_commit(lambda: link_preview.delay(message_pk), robust=True)
