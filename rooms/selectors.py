"""Reads about rooms and membership. Every read that needs membership checks it here."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from messenger.errors import NotFound, NotRoomMember
from orgsync.models import User
from rooms.models import Room, RoomMember, RoomMemberSet

PRESENT_STATES = (RoomMember.State.ACTIVE, RoomMember.State.HIDDEN)
PREVIEW_MEMBERS = 6


def present_members(room_id: int) -> QuerySet[RoomMember]:
    """Members who are in the room (a 1:1 room hidden by its leaver still counts)."""
    return RoomMember.objects.filter(room_id=room_id, state__in=PRESENT_STATES)


def room_member_user_pks(*, room_id: int) -> list[int]:
    """Primary keys of everyone a room event should reach."""
    return list(present_members(room_id).values_list("user_id", flat=True))


def membership_get(*, user: User, room_id: Any, for_update: bool = False) -> RoomMember:
    """The caller's membership of a room, or NotFound / NotRoomMember.

    A member who left is refused like a stranger; a 1:1 room merely hidden by its leaver is not.
    """
    try:
        room_pk = int(room_id)
    except (TypeError, ValueError):
        raise NotFound("No such room.") from None
    qs = RoomMember.objects.select_related("room")
    if for_update:
        qs = qs.select_for_update()
    member = qs.filter(room_id=room_pk, user=user).first()
    if member is None or member.state == RoomMember.State.LEFT:
        if not Room.objects.filter(pk=room_pk).exists():
            raise NotFound("No such room.")
        raise NotRoomMember()
    return member


def room_lock(*, room_id: int) -> Room:
    """Lock the room row: the per-room seq counter and its member count live on it."""
    return Room.objects.select_for_update().get(pk=room_id)


def room_lock_with_audience(*, room_id: int) -> tuple[Room, list[int]]:
    """Lock the room row and read who its events reach in the same statement.

    The audience comes from the room's member set, which is written only under this lock
    (create, invite, leave), so it is current while the lock is held; a room without one falls
    back to reading the members.
    """
    room = Room.objects.select_for_update().select_related("member_set").get(pk=room_id)
    try:
        members = room.member_set.members
    except RoomMemberSet.DoesNotExist:
        return room, room_member_user_pks(room_id=room.pk)
    return room, [int(pk) for pk in members.split(",") if pk]


def direct_peer_pks(*, user: User) -> list[int]:
    """Users who share a 1:1 room with this user: the audience for their presence."""
    room_ids = RoomMember.objects.filter(
        user=user, state__in=PRESENT_STATES, room__kind=Room.Kind.DIRECT
    ).values("room_id")
    return list(
        RoomMember.objects.filter(room_id__in=room_ids, state__in=PRESENT_STATES)
        .exclude(user=user)
        .values_list("user_id", flat=True)
        .distinct()
    )


def _member_previews(room_ids: list[int]) -> dict[int, list[dict[str, str]]]:
    """A few members of each room, in join order, in one query (no N+1 over rooms)."""
    if not room_ids:
        return {}
    rows = (
        RoomMember.objects.filter(room_id__in=room_ids, state__in=PRESENT_STATES)
        .annotate(rn=Window(RowNumber(), partition_by=[F("room_id")], order_by=F("id").asc()))
        .filter(rn__lte=PREVIEW_MEMBERS)
        .values("room_id", "user__user_id", "user__name")
    )
    previews: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        previews[row["room_id"]].append(
            {"user_id": row["user__user_id"], "name": row["user__name"]}
        )
    return previews


def _display_name(room: Room, member: RoomMember, preview: list[dict[str, str]]) -> str:
    if member.nickname:
        return member.nickname
    if room.name:
        return room.name
    others = [p["name"] for p in preview if p["user_id"] != member.user.user_id]
    if not others:
        return member.user.name
    shown = ", ".join(others[:4])
    rest = room.member_count - 1 - min(len(others), 4)
    return f"{shown} 외 {rest}명" if rest > 0 else shown


def room_summary(
    member: RoomMember, preview: list[dict[str, str]], last_sender_name: str | None = None
) -> dict[str, Any]:
    """A room as one member sees it in the room list (GET /api/rooms, room_updated)."""
    room = member.room
    master = room.master if room.master_id else None
    last = None
    if room.last_seq:
        last_sender = room.last_sender if room.last_sender_id else None
        last = {
            "seq": room.last_seq,
            "type": room.last_msg_type,
            "body": "" if room.last_msg_state else room.last_msg_body,
            "state": room.last_msg_state,
            "sender": last_sender.user_id if last_sender else None,
            "sender_name": last_sender.name if last_sender else None,
            "created": room.last_message_at,
        }
    return {
        "room_id": room.pk,
        "kind": room.kind,
        "name": _display_name(room, member, preview),
        "room_name": room.name,
        "nickname": member.nickname,
        "master": master.user_id if master else None,
        "member_count": room.member_count,
        "members": preview,
        "muted": member.muted,
        "last_seq": room.last_seq,
        "last_read_seq": member.last_read_seq,
        "unread": max(room.last_seq - member.last_read_seq, 0),
        "last_message": last,
        "created": room.created_at,
    }


def rooms_for_user(*, user: User) -> list[dict[str, Any]]:
    """My rooms, newest activity first, each with its last message and my unread count.

    Hidden 1:1 rooms (left until the next message) and 1:1 rooms someone else opened but
    nobody has written in yet are not listed.
    """
    qs = (
        RoomMember.objects.filter(user=user, state=RoomMember.State.ACTIVE)
        .filter(Q(room__last_seq__gt=0) | Q(room__kind=Room.Kind.GROUP) | Q(room__master=user))
        .select_related("room", "room__last_sender", "room__master", "user")
        .order_by(F("room__last_message_at").desc(nulls_last=True), "-room__created_at")
    )
    rows = list(qs)
    previews = _member_previews([m.room_id for m in rows])
    return [room_summary(m, previews.get(m.room_id, [])) for m in rows]


def room_summary_for(*, member: RoomMember) -> dict[str, Any]:
    """One room as `member` sees it, fresh from the database."""
    member = RoomMember.objects.select_related(
        "room", "room__last_sender", "room__master", "user"
    ).get(pk=member.pk)
    return room_summary(member, _member_previews([member.room_id]).get(member.room_id, []))


def room_summaries_for_members(*, room_id: int, user_pks: list[int]) -> dict[int, dict[str, Any]]:
    """The room as each of the given users sees it, in two queries whatever their number."""
    members = RoomMember.objects.select_related(
        "room", "room__last_sender", "room__master", "user"
    ).filter(room_id=room_id, user_id__in=user_pks, state__in=PRESENT_STATES)
    preview = _member_previews([room_id]).get(room_id, [])
    return {m.user_id: room_summary(m, preview) for m in members}


def room_detail(*, user: User, room_id: Any) -> dict[str, Any]:
    """The room with its full member list, for a member."""
    member = membership_get(user=user, room_id=room_id)
    summary = room_summary_for(member=member)
    everyone = (
        present_members(member.room_id)
        .select_related("user", "user__org")
        .order_by("id")
        .values("user__user_id", "user__name", "user__org__name", "last_read_seq")
    )
    summary["members"] = [
        {
            "user_id": row["user__user_id"],
            "name": row["user__name"],
            "org_name": row["user__org__name"] or "",
            "last_read_seq": row["last_read_seq"],
        }
        for row in everyone
    ]
    return summary
