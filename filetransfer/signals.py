"""Queue a link preview when a talk message with a URL is stored.

A signal rather than a call in messages.services: messages sits below filetransfer and must
not import it (ARCHITECTURE.md, "Layering"), and the REST and socket sends both land here.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from filetransfer import services
from filetransfer.tasks import link_preview
from messages.models import Message
from messages.signals import messages_appended
from messenger.outage import queue_on_commit


@receiver(messages_appended, dispatch_uid="filetransfer.queue_link_preview")
def queue_link_preview(sender: Any, messages: list[Message], **kwargs: Any) -> None:
    for message in messages:
        if services.link_preview_wanted(message):
            queue_on_commit(
                link_preview,
                message.pk,
                part="link previews",
                consequence="messages sent get no link preview",
            )
