"""Changes to rooms that write no line into the room: names, mute, and the memberships of
people whose account is turned off or back on.

Membership changes that post an invite/leave line live in messages.services (ARCHITECTURE.md,
"Layering")."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from messenger import realtime
from messenger.errors import InvalidInput, NotRoomMaster
from orgsync.models import User
from rooms import selectors
from rooms.models import Room, RoomMember, RoomMemberSet

logger = logging.getLogger(__name__)

ROOM_UPDATED = "room_updated"
# Rows per statement of the bulk membership changes (IN lists, CASE WHEN updates).
CHUNK = 1000

T = TypeVar("T")


def has_lone_surrogates(value: str) -> bool:
    """True for text that cannot be stored as UTF-8 (JSON lets a client send "\\ud800")."""
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)


def clean_room_name(value: Any, *, field: str) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text.")
    value = value.strip()
    limit = settings.MESSENGER["ROOM_NAME_MAX_CHARS"]
    if len(value) > limit:
        raise InvalidInput(f"{field} may have at most {limit} characters.")
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput(f"{field} may not contain control characters.")
    if has_lone_surrogates(value):
        raise InvalidInput(f"{field} is not valid text.")
    return value


def publish_room_updated(*, room_id: int, user_pks: list[int]) -> None:
    """Push the room, as each user sees it, to those users after commit."""

    def send() -> None:
        for user_pk, summary in selectors.room_summaries_for_members(
            room_id=room_id, user_pks=user_pks
        ).items():
            realtime.publish_to_users([user_pk], ROOM_UPDATED, summary)

    transaction.on_commit(send, robust=True)


@transaction.atomic
def room_update_for_me(
    *, actor: User, room_id: Any, nickname: str | None = None, muted: bool | None = None
) -> RoomMember:
    """Rename the room for me only, and/or mute it for me."""
    member = selectors.membership_get(user=actor, room_id=room_id, for_update=True)
    fields = []
    if nickname is not None:
        member.nickname = clean_room_name(nickname, field="nickname")
        fields.append("nickname")
    if muted is not None:
        member.muted = bool(muted)
        fields.append("muted")
    if fields:
        member.save(update_fields=[*fields, "updated_at"])
        publish_room_updated(room_id=member.room_id, user_pks=[actor.pk])
    return member


@transaction.atomic
def room_rename_for_everyone(*, actor: User, room_id: Any, name: str) -> Room:
    """Rename the room for all its members; only the room master may."""
    member = selectors.membership_get(user=actor, room_id=room_id)
    room = selectors.room_lock(room_id=member.room_id)
    if room.master_id != actor.pk:
        raise NotRoomMaster("Only the room master may rename the room for everyone.")
    if room.kind == Room.Kind.DIRECT:
        raise InvalidInput("A 1:1 room has no name for everyone; rename it for yourself.")
    room.name = clean_room_name(name, field="name")
    room.save(update_fields=["name", "updated_at"])
    publish_room_updated(room_id=room.pk, user_pks=selectors.room_member_user_pks(room_id=room.pk))
    return room


@transaction.atomic
def room_update(
    *,
    actor: User,
    room_id: Any,
    name: str | None = None,
    nickname: str | None = None,
    muted: bool | None = None,
) -> None:
    """Apply a PATCH of the room in one transaction: all of it or none of it."""
    if name is not None:
        room_rename_for_everyone(actor=actor, room_id=room_id, name=name)
    if nickname is not None or muted is not None:
        room_update_for_me(actor=actor, room_id=room_id, nickname=nickname, muted=muted)


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def members_key(user_pks: list[int]) -> tuple[str, str]:
    """A room's member key (RoomMemberSet.members) and its hash."""
    members = ",".join(str(pk) for pk in sorted(set(user_pks)))
    return members, hashlib.sha256(members.encode()).hexdigest()


@transaction.atomic
def memberships_set_active(*, user_pks: Sequence[int], active: bool) -> list[int]:
    """Set aside the memberships of people whose account was deactivated, or put them back when
    it is reactivated; returns the pks of the rooms that changed.

    A set-aside member (RoomMember.State.DEACTIVATED) is counted nowhere: not in the room's
    member_count (so a new message's unread), nor in the watermarks behind a message's unread
    count and readers, nor among the pushes' audience. The room's master role passes to the
    longest-standing member still counted, as when the master leaves. On reactivation the
    memberships come back as they were (a hidden 1:1 room stays hidden) with their watermarks,
    so whatever was sent meanwhile is unread for them again; a room closed meanwhile (its last
    counted member left) stays closed and they are marked as having left it. No line is
    written. Each room's counted members are pushed `room_updated` after commit.

    Works in bulk for the HR sync, whatever the number of people: statements per chunk of
    people or rooms, never per person per room. Rooms are locked in pk order first, as a send
    locks its room before touching memberships. The caller holds the people's rows locked
    (users_set_active, the sync), which a send by one of them, in flight at that moment,
    needs for its insert after locking its room: MariaDB then rolls back one of the two as a
    deadlock, normally the one that changed fewer rows (the send: 503, and its retry is
    refused as deactivated).
    """
    pks = sorted(set(user_pks))
    states = (RoomMember.State.DEACTIVATED,) if active else selectors.PRESENT_STATES
    room_ids: set[int] = set()
    for chunk in _chunks(pks):
        room_ids.update(
            RoomMember.objects.filter(user_id__in=chunk, state__in=states).values_list(
                "room_id", flat=True
            )
        )
    rooms = sorted(room_ids)
    if not rooms:
        return []
    closed: list[int] = []
    for chunk in _chunks(rooms):
        locked = Room.objects.select_for_update().filter(pk__in=chunk).order_by("pk")
        closed += [pk for pk, state in locked.values_list("pk", "state") if state]
    now = timezone.now()
    for chunk in _chunks(pks):
        mine = RoomMember.objects.filter(user_id__in=chunk, state__in=states)
        if not active:
            mine.update(state=RoomMember.State.DEACTIVATED, updated_at=now)
            continue
        if closed:
            mine.filter(room_id__in=closed).update(
                state=RoomMember.State.LEFT, left_at=now, updated_at=now
            )
        # Only a hidden 1:1 membership had a left_at when it was set aside.
        mine.filter(left_at__isnull=True).update(state=RoomMember.State.ACTIVE, updated_at=now)
        mine.update(state=RoomMember.State.HIDDEN, updated_at=now)
    gone = set() if active else set(pks)
    for chunk in _chunks(rooms):
        _recount_rooms(chunk, gone=gone, now=now)
    transaction.on_commit(lambda: _publish_rooms_updated(rooms), robust=True)
    logger.info(
        "%s the memberships of %d people in %d rooms",
        "restored" if active else "set aside",
        len(pks),
        len(rooms),
    )
    return rooms


def _upsert(model: type[Room] | type[RoomMemberSet], objs: list[Any], fields: list[str]) -> None:
    """Write `fields` of existing rows by primary key in one statement (INSERT ... ON DUPLICATE
    KEY UPDATE; ON CONFLICT on SQLite): bulk_update's CASE WHEN took seconds of Python to build
    for 600 rooms (orgsync.sync.apply writes people the same way)."""
    options: dict[str, Any] = {"update_conflicts": True, "update_fields": fields}
    if connection.features.supports_update_conflicts_with_target:
        options["unique_fields"] = ["id"]
    model._default_manager.bulk_create(objs, **options)


def _recount_rooms(room_ids: Sequence[int], *, gone: set[int], now: Any) -> None:
    """Recount locked rooms from their present members: member_count, the member set (the
    pushes' audience), and a master who is among `gone` handed to the first one counted."""
    present: dict[int, list[int]] = defaultdict(list)
    for room_id, user_id in (
        RoomMember.objects.filter(room_id__in=room_ids, state__in=selectors.PRESENT_STATES)
        .order_by("room_id", "id")
        .values_list("room_id", "user_id")
    ):
        present[room_id].append(user_id)
    rooms = []
    for pk, kind, master_id in Room.objects.filter(pk__in=room_ids).values_list(
        "pk", "kind", "master_id"
    ):
        if kind == Room.Kind.GROUP and master_id in gone and present[pk]:
            master_id = present[pk][0]
        count = len(present[pk])
        rooms.append(Room(pk=pk, kind=kind, master_id=master_id, member_count=count))
    _upsert(Room, rooms, ["member_count", "master", "updated_at"])
    sets = []
    for pk, room_id, direct_key in RoomMemberSet.objects.filter(room_id__in=room_ids).values_list(
        "pk", "room_id", "direct_key"
    ):
        members, digest = members_key(present[room_id])
        sets.append(
            RoomMemberSet(
                pk=pk, room_id=room_id, members=members, members_hash=digest, direct_key=direct_key
            )
        )
    _upsert(RoomMemberSet, sets, ["members", "members_hash", "updated_at"])


def _publish_rooms_updated(room_ids: list[int]) -> None:
    """Push each room, as each of its counted members sees it, to them: open clients redraw the
    member count and reload the member list that their unread counts come from."""
    for chunk in _chunks(room_ids, 200):
        with realtime.published_together():
            for user_pk, summary in selectors.room_summaries_of_rooms(room_ids=list(chunk)):
                realtime.publish_to_users([user_pk], ROOM_UPDATED, summary)
