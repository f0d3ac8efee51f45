"""Every stored file, for expiry and audit (seed: A_FILELOG_TBL)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from messages.models import Message
from rooms.models import Room


class FileLog(models.Model):
    class State(models.TextChoices):
        STORED = "stored"
        EXPIRED = "expired"
        DELETED = "deleted"

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="file_logs")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="+")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The seed's BODY held the stored path; the original name lives apart from it, and no
    # client-given path ever reaches the file system.
    storage_name = models.CharField(max_length=255)
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.STORED)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "room"], name="filelog_message_room"),
        ]
        indexes = [models.Index(fields=["state", "expires_at"], name="filelog_state_expiry")]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.size} bytes)"
