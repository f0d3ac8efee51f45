"""Reads about rooms and membership. Every read that needs membership checks it here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet

from messenger.errors import NotRoomMember
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
    """The caller's membership of a room, or NotRoomMember (a 404, whether the room exists).

    A member who left is refused like a stranger; a 1:1 room merely hidden by its leaver is not.
    """
    try:
        room_pk = int(room_id)
    except (TypeError, ValueError):
        raise NotRoomMember() from None
    qs = RoomMember.objects.select_related("room")
    if for_update:
        qs = qs.select_for_update()
    member = qs.filter(room_id=room_pk, user=user).first()
    if member is None or member.state == RoomMember.State.LEFT:
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


def direct_peer_deactivated(*, room: Room) -> bool:
    """Whether this is a 1:1 room whose other person's account is deactivated: their membership
    is set aside, so the room counts one member where a pair counts two (a room with oneself
    counts one as well, and its direct_key names the same person twice). Reads the member set
    `room_lock_with_audience` loaded with the room: no query of its own."""
    if room.kind != Room.Kind.DIRECT or room.member_count >= 2:
        return False
    try:
        key = room.member_set.direct_key or ""
    except RoomMemberSet.DoesNotExist:
        return False
    low, _sep, high = key.partition(":")
    return low != high


def _member_previews(
    room_ids: list[int], *, direct_ids: Collection[int] = ()
) -> dict[int, list[dict[str, Any]]]:
    """A few members of each room, in join order, in one query (no N+1 over rooms).

    The first PREVIEW_MEMBERS of each room are numbered on `roommember_room_members` alone and
    only those are joined to their users: someone in 1,000 rooms shares them with thousands
    of people, and joining every one of them before keeping six a room cost twice as much.
    Written in SQL because the ORM puts the join inside the numbered subquery.

    A 1:1 room (in `direct_ids`) keeps showing a peer whose account was deactivated, marked
    `active: false`: the survivor still sees whom the history is with."""
    if not room_ids:
        return {}
    members, users = RoomMember._meta.db_table, User._meta.db_table
    places = ", ".join(["%s"] * len(room_ids))
    states = [state.value for state in PRESENT_STATES]
    where = "state IN (%s, %s)"
    params: list[Any] = [*room_ids, *states]
    direct = [pk for pk in room_ids if pk in direct_ids]
    if direct:
        where = f"({where} OR (state = %s AND room_id IN ({', '.join(['%s'] * len(direct))})))"
        params += [RoomMember.State.DEACTIVATED.value, *direct]
    sql = (
        "SELECT kept.room_id, u.user_id, u.name, u.is_active FROM ("  # noqa: S608 - placeholders
        "SELECT room_id, user_id, id, ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY id) AS rn "
        f"FROM {members} WHERE room_id IN ({places}) AND {where}"
        f") kept JOIN {users} u ON u.id = kept.user_id WHERE kept.rn <= %s "
        "ORDER BY kept.room_id, kept.id"
    )
    previews: dict[int, list[dict[str, Any]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, PREVIEW_MEMBERS])
        for room_id, user_id, name, active in cursor.fetchall():
            previews[room_id].append({"user_id": user_id, "name": name, "active": bool(active)})
    return previews


def _direct_ids(rows: Iterable[dict[str, Any]]) -> set[int]:
    return {row["room_id"] for row in rows if row["room__kind"] == Room.Kind.DIRECT}


# The columns a room summary needs, read as plain values: building model instances (member,
# room, master, last sender and user, with every column converted) for each of a person's
# rooms cost far more than the query itself once they are in hundreds of rooms.
SUMMARY_FIELDS = (
    "user_id",
    "nickname",
    "muted",
    "last_read_seq",
    "room_id",
    "room__kind",
    "room__name",
    "room__member_count",
    "room__last_seq",
    "room__last_message_at",
    "room__last_msg_type",
    "room__last_msg_body",
    "room__last_msg_state",
    "room__created_at",
    "room__master__user_id",
    "room__last_sender__user_id",
    "room__last_sender__name",
)
MEMBER_SUMMARY_FIELDS = (*SUMMARY_FIELDS, "user__user_id", "user__name")


def _display_name(row: dict[str, Any], me: tuple[str, str], preview: list[dict[str, Any]]) -> str:
    if row["nickname"]:
        return row["nickname"]
    if row["room__name"]:
        return row["room__name"]
    others = [p["name"] for p in preview if p["user_id"] != me[0]]
    if not others:
        return me[1]
    shown = ", ".join(others[:4])
    rest = row["room__member_count"] - 1 - min(len(others), 4)
    return f"{shown} 외 {rest}명" if rest > 0 else shown


def _summary(row: dict[str, Any], me: tuple[str, str], preview: list[dict[str, Any]]) -> dict:
    """A room as one member sees it (GET /api/rooms, room_updated), from a SUMMARY_FIELDS row;
    `me` is that member's (user_id, name)."""
    last_seq = row["room__last_seq"]
    last = None
    if last_seq:
        last = {
            "seq": last_seq,
            "type": row["room__last_msg_type"],
            "body": "" if row["room__last_msg_state"] else row["room__last_msg_body"],
            "state": row["room__last_msg_state"],
            "sender": row["room__last_sender__user_id"],
            "sender_name": row["room__last_sender__name"],
            "created": row["room__last_message_at"],
        }
    return {
        "room_id": row["room_id"],
        "kind": row["room__kind"],
        "name": _display_name(row, me, preview),
        "room_name": row["room__name"],
        "nickname": row["nickname"],
        "master": row["room__master__user_id"],
        "member_count": row["room__member_count"],
        "members": preview,
        "muted": row["muted"],
        "last_seq": last_seq,
        "last_read_seq": row["last_read_seq"],
        "unread": max(last_seq - row["last_read_seq"], 0),
        "last_message": last,
        "created": row["room__created_at"],
    }


def rooms_for_user(*, user: User) -> list[dict[str, Any]]:
    """My rooms, newest activity first, each with its last message and my unread count.

    Hidden 1:1 rooms (left until the next message) and 1:1 rooms someone else opened but
    nobody has written in yet are not listed.
    """
    rows = list(
        RoomMember.objects.filter(user=user, state=RoomMember.State.ACTIVE)
        .filter(Q(room__last_seq__gt=0) | Q(room__kind=Room.Kind.GROUP) | Q(room__master=user))
        .order_by(F("room__last_message_at").desc(nulls_last=True), "-room__created_at")
        .values(*SUMMARY_FIELDS)
    )
    previews = _member_previews([row["room_id"] for row in rows], direct_ids=_direct_ids(rows))
    me = (user.user_id, user.name)
    return [_summary(row, me, previews.get(row["room_id"], [])) for row in rows]


def room_summary_for(*, member: RoomMember) -> dict[str, Any]:
    """One room as `member` sees it, fresh from the database."""
    row = RoomMember.objects.filter(pk=member.pk).values(*MEMBER_SUMMARY_FIELDS).get()
    preview = _member_previews([row["room_id"]], direct_ids=_direct_ids([row])).get(
        row["room_id"], []
    )
    return _summary(row, (row["user__user_id"], row["user__name"]), preview)


def room_summaries_for_members(*, room_id: int, user_pks: list[int]) -> dict[int, dict[str, Any]]:
    """The room as each of the given users sees it, in two queries whatever their number."""
    rows = list(
        RoomMember.objects.filter(
            room_id=room_id, user_id__in=user_pks, state__in=PRESENT_STATES
        ).values(*MEMBER_SUMMARY_FIELDS)
    )
    preview = _member_previews([room_id], direct_ids=_direct_ids(rows)).get(room_id, [])
    return {
        row["user_id"]: _summary(row, (row["user__user_id"], row["user__name"]), preview)
        for row in rows
    }


def room_summaries_of_rooms(*, room_ids: list[int]) -> list[tuple[int, dict[str, Any]]]:
    """Each of these rooms as each of its present members sees it: (user pk, summary) pairs,
    in two queries whatever the number of rooms and members."""
    rows = list(
        RoomMember.objects.filter(room_id__in=room_ids, state__in=PRESENT_STATES)
        .order_by("room_id", "id")
        .values(*MEMBER_SUMMARY_FIELDS)
    )
    previews = _member_previews(room_ids, direct_ids=_direct_ids(rows))
    return [
        (
            row["user_id"],
            _summary(
                row, (row["user__user_id"], row["user__name"]), previews.get(row["room_id"], [])
            ),
        )
        for row in rows
    ]


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
