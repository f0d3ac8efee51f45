"""Messages (seed: A_MSGMST_TBL) and per-receiver exceptions (seed: A_MSGDTL_TBL).

Each message has a per-room `seq`; read state is the members' watermarks, so MessageReceipt
only holds the exceptions (deleted for me)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from rooms.models import Room


class Message(models.Model):
    class Type(models.TextChoices):
        TALK = "talk"
        IMAGE = "image"
        FILE = "file"
        FLINK = "flink"
        INVITE = "invite"
        LEAVE = "leave"
        NOTICE = "notice"

    class State(models.TextChoices):
        NORMAL = "", "normal"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    SYSTEM_TYPES = frozenset({Type.INVITE, Type.LEAVE, Type.NOTICE})

    msg_id = models.UUIDField(unique=True)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.BigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sent_messages",
    )
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.TALK)
    body = models.TextField(blank=True)
    meta = models.JSONField(default=dict, blank=True)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.NORMAL, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    file_expires_at = models.DateTimeField(null=True, blank=True)
    thumbnail = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_room_seq"),
        ]
        indexes = [
            models.Index(fields=["room", "type", "seq"], name="message_room_type"),
            models.Index(fields=["type", "file_expires_at"], name="message_file_expiry"),
            models.Index(fields=["sender", "created_at"], name="message_sender_created"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.seq} in room {self.room_id}"

    @property
    def is_system(self) -> bool:
        return self.type in self.SYSTEM_TYPES


class MessageReceipt(models.Model):
    """A receiver's exception to a message: today only "deleted for me"."""

    class State(models.TextChoices):
        DELETED = "D", "deleted for me"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="receipts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=1, choices=State.choices, default=State.DELETED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="receipt_message_user"),
        ]
        indexes = [models.Index(fields=["user", "state"], name="receipt_user_state")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.state} {self.message_id}"
