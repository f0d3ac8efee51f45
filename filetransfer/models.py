"""Every stored file, for expiry and audit (seed: A_FILELOG_TBL), and the link-preview cache.

A FileLog row is written before a file's bytes reach storage (state `pending`), becomes
`stored` in the same transaction as its message, and `expired` (or `deleted`, for an upload
that never completed) once the expiry job has removed the bytes. A forward (flink) gets its own
row pointing at the original through `source`: the bytes are stored once, and both rows share
the original's expiry.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from messages.models import Message
from rooms.models import Room


class FileLog(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "uploading"
        STORED = "stored"
        EXPIRED = "expired"
        DELETED = "deleted", "deleted (upload never completed)"

    # Null only while the upload is pending: the message is written with the stored file.
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.PROTECT, related_name="file_logs"
    )
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="+")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # A forward points at the upload whose bytes it shares; uploads have no source.
    source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="forwards"
    )
    # The seed's BODY held the stored path; the original name lives apart from it, and no
    # client-given path ever reaches the file system.
    storage_name = models.CharField(max_length=255)
    thumbnail_name = models.CharField(max_length=255, blank=True)
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.STORED)
    expires_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the bytes were deleted from storage."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "room"], name="filelog_message_room"),
        ]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="filelog_state_expiry"),
            models.Index(fields=["sender", "state"], name="filelog_sender_state"),
            # Expired or abandoned uploads whose bytes are not yet recorded as deleted.
            models.Index(fields=["state", "removed_at"], name="filelog_state_removed"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.size} bytes)"

    @property
    def is_forward(self) -> bool:
        return self.source_id is not None


class LinkPreview(models.Model):
    """The card of one URL (title, description, image), fetched once and reused per URL."""

    class Status(models.TextChoices):
        OK = "ok"
        FAILED = "failed"
        BLOCKED = "blocked", "blocked (private address)"

    url = models.TextField()
    url_hash = models.CharField(max_length=64, unique=True)
    # The image is served by this random token, so its address cannot be guessed.
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices)
    title = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    site_name = models.CharField(max_length=200, blank=True)
    image_name = models.CharField(max_length=255, blank=True)
    fetched_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["fetched_at"], name="linkpreview_fetched")]

    def __str__(self) -> str:
        return f"{self.status} {self.url[:80]}"
