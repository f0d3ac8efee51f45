"""Changes to rooms that write no line into the room: names and mute.

Membership changes that post an invite/leave line live in messages.services (ARCHITECTURE.md,
"Layering")."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from messenger import realtime
from messenger.errors import InvalidInput, NotRoomMaster
from orgsync.models import User
from rooms import selectors
from rooms.models import Room, RoomMember

ROOM_UPDATED = "room_updated"


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
