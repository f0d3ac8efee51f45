"""Reads of messages: history pages and catch-up by seq, unread counts, readers, search.

Every read checks the caller's membership; a member sees messages from when they (re)joined
(seq > joined_seq), minus the ones they deleted for themselves."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from messages.events import message_payload, unread_for
from messages.models import Message, MessageReceipt
from messenger.errors import InvalidInput, NotFound, NotRoomMember
from orgsync.models import User
from rooms import selectors as room_selectors
from rooms.models import RoomMember


def parse_msg_id(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise InvalidInput("msg_id must be a UUID made by the client.") from None


def message_for_member(
    *, user: User, msg_id: uuid.UUID, related: tuple[str, ...] = ("room", "sender")
) -> tuple[Message, RoomMember]:
    """A message the user may see, with their membership of its room, or NotFound. A message
    that does not exist, one of a room they are not in (or left) and one sent before they
    joined are answered alike, so that no answer tells an outsider which ids exist."""
    message = Message.objects.select_related(*related).filter(msg_id=msg_id).first()
    try:
        if message is None:
            raise NotRoomMember()
        member = room_selectors.membership_get(user=user, room_id=message.room_id)
    except NotRoomMember:
        raise NotFound(_("No such message.")) from None
    if message.seq <= member.joined_seq:
        raise NotFound(_("No such message."))
    return message, member


def unread_counts(*, room_id: int) -> Callable[[int], int]:
    """A function seq -> how many present members have not read that far, from one query."""
    marks = sorted(room_selectors.present_members(room_id).values_list("last_read_seq", flat=True))
    return lambda seq: unread_for(seq, marks)


# What message_payload reads. The sender and the replied-to message's sender are User rows
# of some thirty columns (password hash, four datetimes, ...): loading only these keeps a
# history page's column conversions and SQL compilation small.
PAYLOAD_FIELDS = (
    "msg_id",
    "room_id",
    "seq",
    "sender_id",
    "type",
    "body",
    "meta",
    "reply_to_id",
    "state",
    "created_at",
    "sender__user_id",
    "sender__name",
    "reply_to__msg_id",
    "reply_to__seq",
    "reply_to__sender_id",
    "reply_to__type",
    "reply_to__body",
    "reply_to__state",
    "reply_to__sender__user_id",
    "reply_to__sender__name",
)


def _visible_to(user: User) -> QuerySet[Message]:
    deleted = MessageReceipt.objects.filter(
        message=OuterRef("pk"), user=user, state=MessageReceipt.State.DELETED
    )
    return (
        Message.objects.select_related("sender", "reply_to", "reply_to__sender")
        .only(*PAYLOAD_FIELDS)
        .exclude(Exists(deleted))
    )


def _int_or_none(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a whole number.") from None
    if number < 0:
        raise InvalidInput(f"{field} may not be negative.")
    return number


def page_limit(value: Any) -> int:
    limit = _int_or_none(value, "limit")
    if limit is None:
        limit = int(settings.MESSENGER["HISTORY_PAGE_DEFAULT"])
    return min(max(limit, 1), int(settings.MESSENGER["HISTORY_PAGE_MAX"]))


def messages_page(
    *, user: User, room_id: Any, before_seq: Any = None, after_seq: Any = None, limit: Any = None
) -> dict[str, Any]:
    """A page of a room's history in seq order.

    after_seq gives the messages after it (catch-up after a reconnect, oldest first);
    before_seq gives the page just before it (scrolling up); neither gives the newest page.
    `has_more` says whether another page lies in the same direction.
    """
    member = room_selectors.membership_get(user=user, room_id=room_id)
    before = _int_or_none(before_seq, "before_seq")
    after = _int_or_none(after_seq, "after_seq")
    size = page_limit(limit)
    qs = _visible_to(user).filter(room_id=member.room_id, seq__gt=member.joined_seq)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    if after is not None:
        qs = qs.filter(seq__gt=after)
        rows = list(qs.order_by("seq")[: size + 1])
        has_more = len(rows) > size
        rows = rows[:size]
    else:
        rows = list(qs.order_by("-seq")[: size + 1])
        has_more = len(rows) > size
        rows = rows[:size][::-1]
    unread = unread_counts(room_id=member.room_id)
    return {
        "room_id": member.room_id,
        "last_seq": member.room.last_seq,
        "last_read_seq": member.last_read_seq,
        "messages": [message_payload(m, unread=unread(m.seq)) for m in rows],
        "has_more": has_more,
    }


def message_readers(*, user: User, msg_id: Any) -> dict[str, Any]:
    """Who has read a message and who has not, among the room's present members."""
    message, _member = message_for_member(user=user, msg_id=parse_msg_id(msg_id), related=())
    rows = (
        room_selectors.present_members(message.room_id)
        .filter(joined_seq__lt=message.seq)
        .order_by("user__name")
        .values_list("user__user_id", "user__name", "last_read_seq")
    )
    read: list[dict[str, str]] = []
    unread: list[dict[str, str]] = []
    for user_id, name, mark in rows:
        person = {"user_id": user_id, "name": name}
        (read if mark >= message.seq else unread).append(person)
    return {
        "msg_id": str(message.msg_id),
        "room_id": message.room_id,
        "seq": message.seq,
        "read": read,
        "unread": unread,
    }


def messages_search(
    *, user: User, q: Any, room_id: Any = None, limit: Any = None
) -> list[dict[str, Any]]:
    """Messages I can see whose text contains q, newest first, in my rooms or one of them."""
    text = (q or "").strip() if isinstance(q, str) or q is None else None
    if not text:
        raise InvalidInput("q must be at least one character.")
    if len(text) > 100:
        raise InvalidInput("q may have at most 100 characters.")
    size = min(page_limit(limit), settings.MESSENGER["SEARCH_LIMIT_MAX"])
    mine = RoomMember.objects.filter(
        user=user, state__in=room_selectors.PRESENT_STATES, room_id=OuterRef("room_id")
    )
    if room_id not in (None, ""):
        # A query parameter that is not a number is bad input, not an unknown room.
        room_pk = _int_or_none(room_id, "room_id")
        member = room_selectors.membership_get(user=user, room_id=room_pk)
        mine = mine.filter(room_id=member.room_id)
    qs = (
        _visible_to(user)
        .annotate(
            floor=mine.values("joined_seq")[:1],
        )
        .filter(Exists(mine), seq__gt=F("floor"), body__icontains=text)
        .filter(type__in=(Message.Type.TALK, Message.Type.FILE, Message.Type.IMAGE))
        .exclude(state=Message.State.CANCELLED)
        .order_by("-id")
    )
    if room_id not in (None, ""):
        # Within one room seq runs with id (both are assigned under the room's lock), and
        # walking (room, seq) backwards stops at the first page of hits instead of reading
        # every message of the room by type and sorting them.
        qs = qs.filter(room_id=member.room_id).order_by("-seq")
    rows = list(qs[:size])
    # The watermarks of every room in the result in one query, not one query per room.
    marks: dict[int, list[int]] = defaultdict(list)
    for room_pk, mark in RoomMember.objects.filter(
        room_id__in={m.room_id for m in rows}, state__in=room_selectors.PRESENT_STATES
    ).values_list("room_id", "last_read_seq"):
        marks[room_pk].append(mark)
    for room_marks in marks.values():
        room_marks.sort()
    return [message_payload(m, unread=unread_for(m.seq, marks[m.room_id])) for m in rows]
