"""The one rule deciding whether a person is alerted about a message, and what the alert may
say. Pure: everything it needs is passed in, so the table in docs/notifications.md and the
tests in tests/notifications/test_rules.py read the same cases. static/messenger/rules.js is
the browser's copy of the content part (title and body)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

SYSTEM_TYPES = frozenset({"invite", "leave", "notice"})
BODY_MAX_CHARS = 140
APP_NAME = "메신저"
HIDDEN_BODY = "새 메시지가 도착했습니다."
IMAGE_PREVIEW = "사진"
FILE_PREVIEW = "파일:"


class Receiver(Protocol):
    """The receiver's settings (orgsync.User has these fields)."""

    pk: Any
    user_id: str
    name: str
    notify_off: bool
    hide_body: bool
    hide_sender: bool
    quiet_from: time | None
    quiet_to: time | None
    time_zone: str
    notify_mentions: bool


class Member(Protocol):
    """The receiver's membership of the room (rooms.RoomMember has these fields)."""

    muted: bool


@dataclass(frozen=True)
class Incoming:
    """What the rule needs of a message and its room."""

    type: str
    body: str
    sender_pk: Any
    sender_name: str
    room_kind: str = "direct"
    room_name: str = ""
    state: str = ""
    file_name: str = ""


@dataclass(frozen=True)
class Decision:
    notify: bool
    title: str = ""
    body: str = ""
    reason: str = ""


def in_quiet_hours(receiver: Receiver, now: datetime) -> bool:
    """Whether `now` (aware) falls in the receiver's quiet hours, read in their time zone.

    From 22:00 to 07:00 crosses midnight; the end is exclusive, so 07:00 is no longer quiet.
    """
    start, end = receiver.quiet_from, receiver.quiet_to
    if start is None or end is None or start == end:
        return False
    try:
        zone = ZoneInfo(receiver.time_zone or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(settings.TIME_ZONE)
    local = now.astimezone(zone).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def mentions(receiver: Receiver, body: str) -> bool:
    """Whether the body mentions the receiver as @user_id (any case) or @name."""
    names = [n for n in (receiver.user_id, receiver.name) if n]
    if not names or "@" not in body:
        return False
    alternatives = "|".join(re.escape(n) for n in names)
    # Not inside an address (a@b) and not the start of a longer name (@bobby for bob); a
    # sentence's full stop after the name still counts.
    pattern = rf"(?<![\w@.])@(?:{alternatives})(?![\w-])(?!\.\w)"
    return re.search(pattern, body, flags=re.IGNORECASE) is not None


def preview(message: Incoming) -> str:
    if message.type == "image":
        return IMAGE_PREVIEW
    if message.type in ("file", "flink"):
        return f"{FILE_PREVIEW} {message.file_name or message.body}".strip()
    return " ".join(message.body.split())


def content(receiver: Receiver, message: Incoming, *, count: int = 1) -> tuple[str, str]:
    """The alert's title and body under the receiver's hide_sender / hide_body settings."""
    if receiver.hide_sender:
        title = APP_NAME
    elif message.room_kind == "group" and message.room_name:
        title = f"{message.sender_name} · {message.room_name}"
    else:
        title = message.sender_name or APP_NAME
    body = HIDDEN_BODY if receiver.hide_body else preview(message)[:BODY_MAX_CHARS]
    if count > 1:
        body = f"({count}) {body}"
    return title, body


def decide(
    receiver: Receiver,
    member: Member,
    message: Incoming,
    now: datetime,
    focused: bool,
    *,
    count: int = 1,
) -> Decision:
    """Whether `receiver` is alerted about `message`, and the alert's title and body.

    The checks run in the order of the table in docs/notifications.md; the first that
    applies gives the reason. `count` is how many messages a batched alert stands for.
    """
    if message.sender_pk is not None and message.sender_pk == receiver.pk:
        return Decision(False, reason="own_message")
    if message.type in SYSTEM_TYPES or message.sender_pk is None:
        return Decision(False, reason="system_line")
    if message.state == "cancelled":
        return Decision(False, reason="cancelled")
    if receiver.notify_off:
        return Decision(False, reason="notify_off")
    if focused:
        return Decision(False, reason="room_focused")
    if in_quiet_hours(receiver, now):
        return Decision(False, reason="quiet_hours")
    mentioned = message.type == "talk" and mentions(receiver, message.body)
    if member.muted and not (mentioned and receiver.notify_mentions):
        return Decision(False, reason="muted")
    title, body = content(receiver, message, count=count)
    return Decision(True, title, body, "mention" if mentioned else "message")
