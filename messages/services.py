"""Writes that put something into a room: messages, and the membership changes that post an
invite or leave line (create with members, invite, leave). Each checks, writes, then
publishes after commit."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from messages.events import message_payload, message_updated_payload
from messages.models import Message, MessageReceipt
from messages.selectors import message_for_member, parse_msg_id, unread_counts
from messages.signals import messages_appended
from messenger.errors import (
    ApplicationError,
    Conflict,
    InvalidInput,
    NotMessageSender,
    PeerDeactivated,
)
from messenger.ratelimit import rate_limit_refusal, rate_limit_take
from messenger.realtime import publish_on_commit, published_together
from orgsync.models import User
from rooms import selectors as room_selectors
from rooms.models import Room, RoomMember, RoomMemberSet
from rooms.services import (
    clean_room_name,
    has_lone_surrogates,
    members_key,
    publish_room_updated,
)

logger = logging.getLogger(__name__)

MESSAGE = "message"
MESSAGE_UPDATED = "message_updated"
READ = "read"
ROOM_REMOVED = "room_removed"
CLIENT_TYPES = (Message.Type.TALK,)
# Messages that carry a stored file; filetransfer appends them through message_append_file.
FILE_TYPES = (Message.Type.IMAGE, Message.Type.FILE, Message.Type.FLINK)
PREVIEW_CHARS = 200


# --- helpers -------------------------------------------------------------------------------


def _clean_body(body: Any) -> str:
    if not isinstance(body, str):
        raise InvalidInput("body must be text.")
    if "\x00" in body:
        raise InvalidInput("body may not contain NUL characters.")
    if has_lone_surrogates(body):
        raise InvalidInput("body is not valid text.")
    limit = settings.MESSENGER["BODY_MAX_CHARS"]
    if len(body) > limit:
        raise InvalidInput(f"body may have at most {limit} characters.")
    if not body.strip():
        raise InvalidInput("body may not be empty.")
    return body


def _direct_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


def _refresh_member_set(room: Room) -> None:
    pks = room_selectors.room_member_user_pks(room_id=room.pk)
    members, digest = members_key(pks)
    RoomMemberSet.objects.filter(room=room).update(
        members=members, members_hash=digest, updated_at=timezone.now()
    )


def _users_by_login(user_ids: Any, *, field: str) -> list[User]:
    """Active users for the given login ids, or InvalidInput naming the unknown ones."""
    if not isinstance(user_ids, list) or not all(
        isinstance(u, str) and not has_lone_surrogates(u) for u in user_ids
    ):
        raise InvalidInput(f"{field} must be a list of user ids.")
    wanted = list(dict.fromkeys(u.strip() for u in user_ids if u.strip()))
    limit = settings.MESSENGER["ROOM_MAX_MEMBERS"]
    if len(wanted) > limit:
        raise InvalidInput(f"{field} may name at most {limit} people.")
    users = list(User.objects.filter(user_id__in=wanted, is_active=True))
    found = {u.user_id for u in users}
    unknown = [u for u in wanted if u not in found]
    if unknown:
        raise InvalidInput(
            f"Unknown or inactive user ids in {field}: {', '.join(unknown[:10])}",
            extra={"unknown": unknown[:100]},
        )
    return users


def _names(users: list[User]) -> str:
    return ", ".join(f"{u.name}님" for u in users[:10]) + (
        f" 외 {len(users) - 10}명" if len(users) > 10 else ""
    )


def _append(*, room: Room, sender: User | None, **fields: Any) -> Message:
    """Add one message to a locked room (`_append_many` with one row)."""
    return _append_many(room=room, sender=sender, rows=[fields])[0]


def _append_many(*, room: Room, sender: User | None, rows: list[dict[str, Any]]) -> list[Message]:
    """Add messages of one sender to a locked room: the one place seqs are allocated.

    Each row gives a message's fields (type, body; optionally msg_id, meta, reply_to,
    file_expires_at, thumbnail). One INSERT for all of them, then the room's counter and
    preview and the sender's watermark once, and the 1:1 members hidden by leaving (who see
    the room again): rows written are one per message plus two, whatever the room size.
    Receivers of `messages_appended` get the new messages once, in seq order.
    """
    now = timezone.now()
    messages = [
        Message(
            msg_id=row.get("msg_id") or uuid.uuid4(),
            room=room,
            seq=room.last_seq + offset,
            sender=sender,
            type=row["type"],
            body=row["body"],
            meta=row.get("meta") or {},
            reply_to=row.get("reply_to"),
            file_expires_at=row.get("file_expires_at"),
            thumbnail=row.get("thumbnail") or "",
        )
        for offset, row in enumerate(rows, start=1)
    ]
    Message.objects.bulk_create(messages)
    last = messages[-1]
    seq = last.seq
    room.last_seq = seq
    room.last_message_at = now
    room.last_msg_type = last.type
    room.last_msg_body = last.body[:PREVIEW_CHARS]
    room.last_msg_state = ""
    room.last_sender = sender
    room.save(
        update_fields=[
            "last_seq",
            "last_message_at",
            "last_msg_type",
            "last_msg_body",
            "last_msg_state",
            "last_sender",
            "updated_at",
        ]
    )
    messages_appended.send(sender=Message, messages=messages)
    present = RoomMember.objects.filter(room=room, state__in=room_selectors.PRESENT_STATES)
    if room.kind == Room.Kind.DIRECT and sender is not None:
        # Both of a pair are present (leaving only hides a 1:1 room): one statement shows the
        # room again to whoever hid it and moves the sender's watermark; the other's row is
        # left alone unless hidden, so a message writes three rows.
        present.filter(Q(user=sender) | Q(state=RoomMember.State.HIDDEN)).update(
            state=RoomMember.State.ACTIVE,
            left_at=None,
            last_read_seq=Case(
                When(user=sender, then=Value(seq)),
                default=F("last_read_seq"),
                output_field=RoomMember._meta.get_field("last_read_seq"),
            ),
        )
        return messages
    if sender is not None:
        present.filter(user=sender).update(last_read_seq=seq)
    if room.kind == Room.Kind.DIRECT:
        RoomMember.objects.filter(room=room, state=RoomMember.State.HIDDEN).update(
            state=RoomMember.State.ACTIVE, left_at=None
        )
    return messages


def _publish_message(
    message: Message,
    *,
    room: Room,
    sender_present: bool = True,
    audience: list[int] | None = None,
) -> dict[str, Any]:
    """Publish a new message to the room's members (read now unless given) after commit;
    return its payload."""
    if audience is None:
        audience = room_selectors.room_member_user_pks(room_id=room.pk)
    # Only the sender has read it when it lands, and only if they are still in the room (the
    # one who leaves is no longer counted in member_count, nor among the readers).
    read_by_sender = 1 if message.sender_id and sender_present else 0
    unread = max(room.member_count - read_by_sender, 0)
    payload = message_payload(message, unread=unread)
    publish_on_commit(audience, MESSAGE, payload)
    return payload


# --- rooms with members ------------------------------------------------------------------


def room_open_direct(*, actor: User, peer: User) -> tuple[Room, bool]:
    """The 1:1 room of a pair (or a room with oneself): the same pair always gets the same room.

    Opening it explicitly shows it again to an actor who had hidden it by leaving.
    """
    if not peer.is_active:
        raise InvalidInput("That person's account is disabled.")
    key = _direct_key(actor.pk, peer.pk)
    for _attempt in range(3):
        existing = RoomMemberSet.objects.filter(direct_key=key).select_related("room").first()
        if existing is not None:
            RoomMember.objects.filter(
                room=existing.room, user=actor, state=RoomMember.State.HIDDEN
            ).update(state=RoomMember.State.ACTIVE, left_at=None)
            return existing.room, False
        try:
            with transaction.atomic():
                pks = sorted({actor.pk, peer.pk})
                room = Room.objects.create(
                    kind=Room.Kind.DIRECT, master=actor, member_count=len(pks)
                )
                RoomMember.objects.bulk_create(RoomMember(room=room, user_id=pk) for pk in pks)
                members, digest = members_key(pks)
                RoomMemberSet.objects.create(
                    room=room, members=members, members_hash=digest, direct_key=key
                )
            publish_room_updated(room_id=room.pk, user_pks=[actor.pk])
            return room, True
        except IntegrityError:
            # The peer opened the same room at the same moment: take theirs.
            logger.info("direct room race for key %s, reusing", key)
    raise Conflict("Could not open the 1:1 room; try again.")


@transaction.atomic
def room_create(*, actor: User, member_ids: Any, name: str = "") -> tuple[Room, bool]:
    """Create a room with the given people; one other person gives the pair's 1:1 room, and a
    group with exactly the same members as an existing one is reused."""
    others = [u for u in _users_by_login(member_ids, field="member_ids") if u.pk != actor.pk]
    if len(others) <= 1:
        if name:
            raise InvalidInput("A 1:1 room has no name for everyone; rename it for yourself.")
        return room_open_direct(actor=actor, peer=others[0] if others else actor)
    name = clean_room_name(name, field="name")
    everyone = [actor, *others]
    limit = settings.MESSENGER["ROOM_MAX_MEMBERS"]
    if len(everyone) > limit:
        raise InvalidInput(f"A room may have at most {limit} members.")
    members, digest = members_key([u.pk for u in everyone])
    reusable = (
        RoomMemberSet.objects.filter(
            members_hash=digest,
            members=members,
            room__kind=Room.Kind.GROUP,
            room__state=Room.State.ACTIVE,
        )
        .select_related("room")
        .first()
    )
    if reusable is not None:
        return reusable.room, False
    room = Room.objects.create(
        kind=Room.Kind.GROUP, name=name, master=actor, member_count=len(everyone)
    )
    RoomMember.objects.bulk_create(RoomMember(room=room, user=u) for u in everyone)
    RoomMemberSet.objects.create(room=room, members=members, members_hash=digest)
    room = room_selectors.room_lock(room_id=room.pk)
    line = _append(
        room=room,
        sender=actor,
        type=Message.Type.INVITE,
        body=f"{actor.name}님이 {_names(others)}을 초대했습니다.",
        meta={"by": actor.user_id, "user_ids": [u.user_id for u in others]},
    )
    publish_room_updated(room_id=room.pk, user_pks=[u.pk for u in everyone])
    _publish_message(line, room=room)
    return room, True


@transaction.atomic
def room_invite(*, actor: User, room_id: Any, user_ids: Any) -> tuple[Room, dict[str, Any] | None]:
    """Invite people: re-activates members who left and posts an invite line.

    Inviting into a 1:1 room starts a new group with the pair and the invitees, as people
    expect from KakaoTalk, so the pair's own room stays theirs. Inviting only people who are
    already members changes nothing and returns no line.
    """
    member = room_selectors.membership_get(user=actor, room_id=room_id)
    invitees = _users_by_login(user_ids, field="user_ids")
    if not invitees:
        raise InvalidInput("user_ids must name at least one person.")
    room = room_selectors.room_lock(room_id=member.room_id)
    current = {m.user_id: m for m in RoomMember.objects.filter(room=room, user__in=invitees)}
    new = [u for u in invitees if u.pk not in current or not current[u.pk].is_member]
    if room.kind == Room.Kind.DIRECT:
        pair = list(
            User.objects.filter(pk__in=room_selectors.room_member_user_pks(room_id=room.pk))
        )
        group_ids = [u.user_id for u in pair + new if u.pk != actor.pk]
        if not new:
            return room, None
        group, _created = room_create(actor=actor, member_ids=group_ids)
        return group, None
    if not new:
        return room, None
    limit = settings.MESSENGER["ROOM_MAX_MEMBERS"]
    if room.member_count + len(new) > limit:
        raise InvalidInput(f"A room may have at most {limit} members.")
    for user in new:
        previous = current.get(user.pk)
        if previous is None:
            RoomMember.objects.create(
                room=room, user=user, joined_seq=room.last_seq, last_read_seq=room.last_seq
            )
        else:
            previous.state = RoomMember.State.ACTIVE
            previous.joined_seq = room.last_seq
            previous.last_read_seq = room.last_seq
            previous.left_at = None
            previous.nickname = ""
            previous.save()
    room.member_count = F("member_count") + len(new)
    room.save(update_fields=["member_count", "updated_at"])
    room.refresh_from_db()
    _refresh_member_set(room)
    line = _append(
        room=room,
        sender=actor,
        type=Message.Type.INVITE,
        body=f"{actor.name}님이 {_names(new)}을 초대했습니다.",
        meta={"by": actor.user_id, "user_ids": [u.user_id for u in new]},
    )
    publish_room_updated(room_id=room.pk, user_pks=[u.pk for u in new])
    return room, _publish_message(line, room=room)


@transaction.atomic
def room_leave(*, actor: User, room_id: Any) -> dict[str, Any] | None:
    """Leave a room. Leaving a 1:1 room only hides it until the next message (the seed's rule,
    since the pair's room is reused); leaving a group posts a leave line, hands the master role
    to the longest-standing member and closes the room when nobody is left."""
    member = room_selectors.membership_get(user=actor, room_id=room_id)
    room = room_selectors.room_lock(room_id=member.room_id)
    now = timezone.now()
    publish_on_commit([actor.pk], ROOM_REMOVED, {"room_id": room.pk})
    if room.kind == Room.Kind.DIRECT:
        RoomMember.objects.filter(pk=member.pk).update(
            state=RoomMember.State.HIDDEN, left_at=now, last_read_seq=room.last_seq
        )
        return None
    RoomMember.objects.filter(pk=member.pk).update(state=RoomMember.State.LEFT, left_at=now)
    room.member_count = max(room.member_count - 1, 0)
    fields = ["member_count", "updated_at"]
    if room.member_count == 0:
        room.state = Room.State.CLOSED
        fields.append("state")
    elif room.master_id == actor.pk:
        heir = room_selectors.present_members(room.pk).order_by("id").first()
        room.master_id = heir.user_id if heir else None
        fields.append("master")
    room.save(update_fields=fields)
    _refresh_member_set(room)
    line = _append(
        room=room,
        sender=actor,
        type=Message.Type.LEAVE,
        body=f"{actor.name}님이 나갔습니다.",
        meta={"user_id": actor.user_id},
    )
    return _publish_message(line, room=room, sender_present=False)


# --- messages --------------------------------------------------------------------------------


def message_send(
    *,
    actor: User,
    room_id: Any,
    msg_id: Any,
    body: Any,
    type: str = Message.Type.TALK,
    reply_to: Any = None,
) -> tuple[dict[str, Any], bool]:
    """Send a talk (or reply) idempotently by the client's msg_id.

    Returns (message payload, created). A retry with the same msg_id stores nothing new and
    returns the stored message; the same msg_id for another room or sender is a conflict.
    """
    # The request's own shape first, as REST has always answered it; then the same path as a
    # socket's sends (membership first, even for a retry: one who left the room is refused
    # like a stranger and is not told how the room has read the message since).
    parse_msg_id(msg_id)
    _check_talk_type(type)
    send = {"msg_id": msg_id, "body": body, "type": type, "reply_to": reply_to}
    ((result, created),) = _send_talks(actor=actor, room_id=room_id, sends=[send])
    if isinstance(result, ApplicationError):
        raise result
    return result, created


def message_send_many(
    *, actor: User, room_id: Any, sends: list[dict[str, Any]]
) -> list[dict[str, Any] | ApplicationError]:
    """Send several talks of one sender to one room in one transaction: the frames a socket
    had queued while its previous send was being stored (messenger.gateway.consumer).

    Membership is checked and the room locked once for all (a refusal there is raised, the
    answer for every one of them). Then each send (its fields: msg_id, body, type, reply_to)
    is checked as by `message_send`, in order: a msg_id already stored is a retry and gets the
    stored message (one query for the whole batch; a msg_id twice in the batch is stored once),
    then the rate limit, the reply and the body. A refused one stores nothing and takes no
    seq; the others are stored with one INSERT (`_append_many`), one commit, and their pushes
    leave together. Returns, in order, each one's payload or its error; a database failure
    rolls back every one and is raised. One room only: its lock is held until the commit,
    and batches locking rooms in different orders could deadlock.
    """
    return [result for result, _created in _send_talks(actor=actor, room_id=room_id, sends=sends)]


def _send_talks(
    *, actor: User, room_id: Any, sends: list[dict[str, Any]]
) -> list[tuple[dict[str, Any] | ApplicationError, bool]]:
    """`message_send_many`, with whether each one was stored now (False: a retry, or refused)."""
    results: list[tuple[dict[str, Any] | ApplicationError, bool] | None] = [None] * len(sends)
    # The commit's pushes leave together, after its hooks ran: hubs then write each socket
    # all of them at once instead of taking them one by one (docs/benchmarks.md).
    with published_together(), transaction.atomic():
        member = room_selectors.membership_get(user=actor, room_id=room_id)
        room, audience = room_selectors.room_lock_with_audience(room_id=member.room_id)
        # msg_id -> the indexes of the sends that carry it, in order of first appearance.
        by_msg_id: dict[uuid.UUID, list[int]] = {}
        for index, send in enumerate(sends):
            try:
                msg_uuid = parse_msg_id(send.get("msg_id"))
                _check_talk_type(send.get("type") or Message.Type.TALK)
            except ApplicationError as error:
                results[index] = (error, False)
            else:
                by_msg_id.setdefault(msg_uuid, []).append(index)
        # Under the room lock: a concurrent retry in this room has committed or waits.
        stored = set(
            Message.objects.filter(msg_id__in=list(by_msg_id)).values_list("msg_id", flat=True)
        )
        fresh = [(m, indexes) for m, indexes in by_msg_id.items() if m not in stored]
        for msg_uuid in stored:
            try:
                answer: dict[str, Any] | ApplicationError = _stored_for_retry(
                    actor=actor, room_pk=room.pk, msg_id=msg_uuid
                )
            except ApplicationError as error:
                answer = error
            for index in by_msg_id[msg_uuid]:
                results[index] = (answer, False)
        # A 1:1 room whose peer was deactivated stays readable, but takes nothing new: the
        # sender would wait for a reader who cannot come (a retry still gets its message).
        refusal = PeerDeactivated() if room_selectors.direct_peer_deactivated(room=room) else None
        # Counted for REST and socket alike; a retry of a stored message is not counted.
        allowed = (
            rate_limit_take(scope="send", key=actor.pk, calls=len(fresh)) if refusal is None else 0
        )
        rows: list[dict[str, Any]] = []
        row_indexes: list[list[int]] = []
        for position, (msg_uuid, indexes) in enumerate(fresh):
            send = sends[indexes[0]]
            try:
                if refusal is not None:
                    raise refusal
                if position >= allowed:
                    raise rate_limit_refusal(scope="send", key=actor.pk)
                row = _talk_row(
                    member=member,
                    body=send.get("body"),
                    type=send.get("type") or Message.Type.TALK,
                    reply_to=send.get("reply_to"),
                )
            except ApplicationError as error:
                # A later send with the same msg_id is a retry of this one: the same answer.
                for index in indexes:
                    results[index] = (error, False)
                continue
            rows.append(row | {"msg_id": msg_uuid})
            row_indexes.append(indexes)
        appended = _append_rows(room=room, actor=actor, rows=rows, alone=len(sends) == 1)
        for message, indexes in zip(appended, row_indexes, strict=True):
            if isinstance(message, ApplicationError):
                answers = [(message, False)] * len(indexes)
            else:
                payload = _publish_message(message, room=room, audience=audience)
                # The first carrier of the msg_id stored it; a copy later in the batch is a retry.
                answers = [(payload, copy == 0) for copy in range(len(indexes))]
            for index, answer in zip(indexes, answers, strict=True):
                results[index] = answer
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


def _append_rows(
    *, room: Room, actor: User, rows: list[dict[str, Any]], alone: bool
) -> list[Message | ApplicationError]:
    """Append checked rows to the locked room with one INSERT. A msg_id stored in another room
    since the retry check makes that INSERT fail: then each row is appended on its own, and
    the one whose msg_id is taken gets a Conflict while the others go on. `alone`: the batch
    is one send, whose Conflict is raised (rolling back a transaction that holds nothing
    else, so it needs no savepoint of its own); a batch of several keeps the answers of the
    sends that wrote nothing here (retries, refusals) in any case."""
    if not rows:
        return []
    conflict = Conflict("msg_id is already used by another message.")
    try:
        with transaction.atomic(savepoint=not alone):
            return list(_append_many(room=room, sender=actor, rows=rows))
    except IntegrityError:
        if alone:
            raise conflict from None
    appended: list[Message | ApplicationError] = []
    for row in rows:
        try:
            with transaction.atomic():
                appended.append(_append(room=room, sender=actor, **row))
        except IntegrityError:
            appended.append(conflict)
    return appended


def _check_talk_type(type: Any) -> None:
    if type not in CLIENT_TYPES:
        raise InvalidInput(f"type must be one of: {', '.join(CLIENT_TYPES)}.")


def _talk_row(*, member: RoomMember, body: Any, type: str, reply_to: Any) -> dict[str, Any]:
    """The checked fields of a new talk (after the rate limit was counted)."""
    original = None
    if reply_to not in (None, ""):
        original = _visible_message(member=member, msg_id=reply_to, field="reply_to")
    return {"type": type, "body": _clean_body(body), "reply_to": original}


def message_retry_payload(*, actor: User, room_id: Any, msg_id: uuid.UUID) -> dict[str, Any] | None:
    """The stored message when msg_id was already sent by the actor in this room (a retry), else
    None; membership is checked first, and a msg_id used elsewhere is a conflict."""
    member = room_selectors.membership_get(user=actor, room_id=room_id)
    return _stored_for_retry(actor=actor, room_pk=member.room_id, msg_id=msg_id)


def message_append_file(
    *,
    actor: User,
    room_id: Any,
    msg_id: uuid.UUID,
    type: str,
    body: str,
    meta: dict[str, Any],
    file_expires_at: datetime | None = None,
    thumbnail: str = "",
) -> tuple[Message | None, dict[str, Any], bool]:
    """Append an image, file or flink message, idempotently by msg_id: filetransfer's entry
    point, called in its transaction once the file is stored.

    Returns (the new message, or None for a retry; its payload; created). The `message` push
    goes out after commit, as for any send.
    """
    if type not in FILE_TYPES:
        raise InvalidInput(f"type must be one of: {', '.join(FILE_TYPES)}.")
    with transaction.atomic():
        member = room_selectors.membership_get(user=actor, room_id=room_id)
        room, audience = room_selectors.room_lock_with_audience(room_id=member.room_id)
        # Checked under the room lock: a concurrent retry in this room has committed or waits.
        stored = _stored_for_retry(actor=actor, room_pk=room.pk, msg_id=msg_id)
        if stored is not None:
            return None, stored, False
        if room_selectors.direct_peer_deactivated(room=room):
            raise PeerDeactivated()
        try:
            message = _append(
                room=room,
                sender=actor,
                msg_id=msg_id,
                type=type,
                body=body,
                meta=meta,
                file_expires_at=file_expires_at,
                thumbnail=thumbnail,
            )
        except IntegrityError:
            # The same msg_id was stored in another room since the check (no savepoint: the
            # error ends the whole transaction, which writes nothing).
            raise Conflict("msg_id is already used by another message.") from None
        return message, _publish_message(message, room=room, audience=audience), True


@transaction.atomic
def messages_mark_expired(*, message_pks: list[int]) -> int:
    """Mark file messages whose file was deleted as expired (the rows stay) and push
    message_updated to each room's members after commit; returns how many changed."""
    rows = list(
        Message.objects.select_for_update()
        .filter(pk__in=message_pks, type__in=FILE_TYPES, state=Message.State.NORMAL)
        .order_by("pk")
    )
    if not rows:
        return 0
    Message.objects.filter(pk__in=[m.pk for m in rows]).update(
        state=Message.State.EXPIRED, updated_at=timezone.now()
    )
    for message in rows:
        message.state = Message.State.EXPIRED
        Room.objects.filter(pk=message.room_id, last_seq=message.seq).update(
            last_msg_state=Message.State.EXPIRED
        )
        publish_on_commit(
            room_selectors.room_member_user_pks(room_id=message.room_id),
            MESSAGE_UPDATED,
            message_updated_payload(message),
        )
    return len(rows)


@transaction.atomic
def message_meta_set(*, message_pk: int, key: str, value: dict[str, Any]) -> bool:
    """Add one entry to a message's meta (a link preview card) and push message_updated with
    the new meta after commit; a cancelled or missing message is left alone (returns False)."""
    message = Message.objects.select_for_update().filter(pk=message_pk).first()
    if message is None or message.state == Message.State.CANCELLED:
        return False
    message.meta = {**message.meta, key: value}
    message.save(update_fields=["meta", "updated_at"])
    # Only members who can see the message: not those who joined after it was sent.
    audience = (
        room_selectors.present_members(message.room_id)
        .filter(joined_seq__lt=message.seq)
        .values_list("user_id", flat=True)
    )
    publish_on_commit(
        list(audience), MESSAGE_UPDATED, message_updated_payload(message, with_meta=True)
    )
    return True


def _stored_for_retry(*, actor: User, room_pk: int, msg_id: uuid.UUID) -> dict[str, Any] | None:
    # Every send asks this and nearly always hears "no": a narrow query keeps the miss cheap
    # (the wide select_related below costs milliseconds of SQL compilation alone).
    owner = Message.objects.filter(msg_id=msg_id).values_list("sender_id", "room_id")[:1]
    found = next(iter(owner), None)
    if found is None:
        return None
    if found != (actor.pk, room_pk):
        raise Conflict("msg_id is already used by another message.")
    message = Message.objects.select_related("sender", "reply_to", "reply_to__sender").get(
        msg_id=msg_id
    )
    payload = message_payload(message, unread=unread_counts(room_id=message.room_id)(message.seq))
    # The first attempt may have committed and lost its answer and its push (the database
    # connection broke during COMMIT): push it again, so members see it without a gap;
    # clients drop a message whose msg_id they hold.
    publish_on_commit(room_selectors.room_member_user_pks(room_id=room_pk), MESSAGE, payload)
    return payload


def _visible_message(*, member: RoomMember, msg_id: Any, field: str) -> Message:
    """A message of the member's room that the member may see, or InvalidInput."""
    try:
        msg_uuid = uuid.UUID(str(msg_id))
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a message id.") from None
    message = (
        Message.objects.select_related("sender")
        .filter(msg_id=msg_uuid, room_id=member.room_id, seq__gt=member.joined_seq)
        .first()
    )
    if message is None:
        raise InvalidInput(f"{field} is not a message of this room.")
    return message


def _message_for_member(*, actor: User, msg_id: Any) -> tuple[Message, RoomMember]:
    """A message and the actor's membership of its room; whoever may not see it gets the
    answer of an unknown message (messages.selectors.message_for_member)."""
    return message_for_member(user=actor, msg_id=parse_msg_id(msg_id))


@transaction.atomic
def room_read(*, actor: User, room_id: Any, seq: Any) -> int:
    """Raise my read watermark to `seq` (never lower it); returns the watermark."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidInput("seq must be a whole number, 0 or more.")
    member = room_selectors.membership_get(user=actor, room_id=room_id)
    target = min(seq, member.room.last_seq)
    changed = RoomMember.objects.filter(pk=member.pk, last_read_seq__lt=target).update(
        last_read_seq=target
    )
    if not changed:
        return member.last_read_seq
    publish_on_commit(
        room_selectors.room_member_user_pks(room_id=member.room_id),
        READ,
        {"room_id": member.room_id, "user_id": actor.user_id, "seq": target},
    )
    return target


def room_open(*, actor: User, room_id: Any) -> int:
    """I am looking at this room: read up to its newest message."""
    member = room_selectors.membership_get(user=actor, room_id=room_id)
    return room_read(actor=actor, room_id=member.room_id, seq=member.room.last_seq)


@transaction.atomic
def message_delete_for_me(*, actor: User, msg_id: Any) -> None:
    """Hide a message from my own history; others still see it."""
    message, _member = _message_for_member(actor=actor, msg_id=msg_id)
    MessageReceipt.objects.get_or_create(
        message=message, user=actor, defaults={"state": MessageReceipt.State.DELETED}
    )


@transaction.atomic
def message_cancel(*, actor: User, msg_id: Any) -> dict[str, Any]:
    """Cancel a message for everyone: the sender only, within the cancel window.

    The body stays in the database for audit (admin shows it read-only) but no client is
    shown it again.
    """
    message, member = _message_for_member(actor=actor, msg_id=msg_id)
    if message.sender_id != actor.pk:
        raise NotMessageSender("Only the sender may cancel a message.")
    if message.is_system:
        raise InvalidInput("System lines cannot be cancelled.")
    if message.state == Message.State.CANCELLED:
        return message_updated_payload(message)
    window = timedelta(seconds=settings.MESSENGER["CANCEL_WINDOW_SECONDS"])
    if timezone.now() - message.created_at > window:
        raise Conflict(
            f"A message can be cancelled only within {_hours(window)} of sending.",
        )
    Message.objects.filter(pk=message.pk).update(
        state=Message.State.CANCELLED, cancelled_at=timezone.now(), updated_at=timezone.now()
    )
    message.state = Message.State.CANCELLED
    Room.objects.filter(pk=message.room_id, last_seq=message.seq).update(
        last_msg_state=Message.State.CANCELLED, last_msg_body=""
    )
    payload = message_updated_payload(message)
    publish_on_commit(
        room_selectors.room_member_user_pks(room_id=member.room_id), MESSAGE_UPDATED, payload
    )
    return payload


def _hours(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} hours"
