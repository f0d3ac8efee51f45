"""Rooms and membership (seed: A_ROOMMST_TBL, A_ROOMDTL_TBL, A_ROOMMEM_TBL).

Read state lives on the membership row: `last_read_seq` is the member's watermark, so a send
writes O(1) rows whatever the room size (ARCHITECTURE.md, "Read state without a row per
receiver")."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Room(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct"
        GROUP = "group"

    class State(models.TextChoices):
        ACTIVE = "", "active"
        CLOSED = "C", "closed"

    kind = models.CharField(max_length=6, choices=Kind.choices)
    name = models.CharField(
        max_length=200, blank=True, help_text="Name for everyone; blank shows the member names."
    )
    master = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=1, choices=State.choices, default=State.ACTIVE, blank=True)
    member_count = models.PositiveIntegerField(default=0)
    # The newest message, kept on the room so the room list needs no join to messages.
    last_seq = models.BigIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_msg_type = models.CharField(max_length=10, blank=True)
    last_msg_body = models.CharField(max_length=200, blank=True)
    last_msg_state = models.CharField(max_length=10, blank=True)
    last_sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"room {self.pk} ({self.kind}, {self.member_count} members)"


class RoomMember(models.Model):
    class State(models.TextChoices):
        ACTIVE = "", "member"
        LEFT = "L", "left"
        # Seed "LeaveWhen2Members": leaving a 1:1 room only hides it until the next message.
        HIDDEN = "2", "hidden until the next message"
        # The person's account is deactivated (HR sync or admin): a former member, set aside
        # and counted nowhere (member_count, unread, readers, pushes) until reactivated. A row
        # set aside from HIDDEN keeps its left_at (only HIDDEN present rows have one), so
        # reactivation can put it back as it was.
        DEACTIVATED = "D", "account deactivated"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    state = models.CharField(max_length=1, choices=State.choices, default=State.ACTIVE, blank=True)
    nickname = models.CharField("my name for the room", max_length=100, blank=True)
    muted = models.BooleanField(default=False)
    hide_members = models.BooleanField(default=False)
    # Messages with seq <= joined_seq were sent before this member (re)joined: not theirs to see.
    joined_seq = models.BigIntegerField(default=0)
    last_read_seq = models.BigIntegerField(default=0)
    left_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="roommember_room_user"),
        ]
        indexes = [
            models.Index(fields=["user", "state"], name="roommember_user_state"),
            models.Index(fields=["room", "state", "last_read_seq"], name="roommember_room_read"),
            # The room list's member previews (first members of each room, in join order) read
            # this index alone: room, state, user and, implicitly, the id.
            models.Index(fields=["room", "state", "user"], name="roommember_room_members"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in room {self.room_id}"

    @property
    def is_member(self) -> bool:
        return self.state != self.State.LEFT


class RoomMemberSet(models.Model):
    """The sorted key of a room's current members, to find a room by who is in it.

    `direct_key` is set only for 1:1 rooms and is unique, so the same pair always gets the same
    room even when both open it at the same moment; groups with the same members are found by
    `members_hash` (not unique: two groups may come to have the same people)."""

    room = models.OneToOneField(Room, on_delete=models.CASCADE, related_name="member_set")
    members = models.TextField(help_text="Comma-separated sorted user pks of current members.")
    members_hash = models.CharField(max_length=64, db_index=True)
    direct_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"members of room {self.room_id}"
