"""The send path's shortcuts keep their promises: the audience read with the room lock is the
room's present members after every membership change, a 1:1 send shows the room to both again
in one statement, and a msg_id used in another room is refused without a savepoint."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messages import services
from messages.models import Message
from messenger.errors import Conflict
from rooms import selectors as room_selectors
from rooms.models import RoomMember, RoomMemberSet
from tests.conftest import send


def pushed_audience(pushes, body: str) -> list[int]:
    return next(sorted(users) for users, data in pushes.of("message") if data["body"] == body)


def present(room) -> list[int]:
    return sorted(room_selectors.room_member_user_pks(room_id=room.pk))


def test_message_send_reaches_the_members_after_invites_and_leaves(
    alice, bob, carol, dave, group, pushes
):
    with pushes.committed():
        send(alice, group.pk, "셋")
    assert pushed_audience(pushes, "셋") == sorted([alice.pk, bob.pk, carol.pk])

    services.room_invite(actor=alice, room_id=group.pk, user_ids=[dave.user_id])
    services.room_leave(actor=bob, room_id=group.pk)
    with pushes.committed():
        send(carol, group.pk, "다시 셋")

    assert pushed_audience(pushes, "다시 셋") == sorted([alice.pk, carol.pk, dave.pk])
    assert pushed_audience(pushes, "다시 셋") == present(group)


def test_message_send_in_a_direct_room_reaches_a_hidden_peer_and_unhides_them(
    alice, bob, direct, pushes
):
    services.room_leave(actor=bob, room_id=direct.pk)
    with pushes.committed():
        payload = send(alice, direct.pk, "돌아와")

    assert pushed_audience(pushes, "돌아와") == sorted([alice.pk, bob.pk])
    members = {m.user_id: m for m in RoomMember.objects.filter(room=direct)}
    assert members[bob.pk].state == RoomMember.State.ACTIVE
    assert members[bob.pk].left_at is None
    assert members[alice.pk].last_read_seq == payload["seq"]
    # Only the sender's watermark moved.
    assert members[bob.pk].last_read_seq < payload["seq"]


def test_message_send_without_a_member_set_reads_the_members(alice, bob, carol, group, pushes):
    RoomMemberSet.objects.filter(room=group).delete()
    with pushes.committed():
        send(bob, group.pk, "집합 없이")

    assert pushed_audience(pushes, "집합 없이") == sorted([alice.pk, bob.pk, carol.pk])


def test_message_send_msg_id_of_another_room_is_a_conflict_and_writes_nothing(
    alice, bob, carol, group, direct
):
    msg_id = uuid.uuid4()
    services.message_send(actor=alice, room_id=direct.pk, msg_id=msg_id, body="1:1")
    group.refresh_from_db()
    before = group.last_seq

    with pytest.raises(Conflict):
        services.message_send(actor=alice, room_id=group.pk, msg_id=msg_id, body="그룹")

    group.refresh_from_db()
    assert group.last_seq == before
    assert Message.objects.filter(msg_id=msg_id).count() == 1
    # The connection is usable afterwards.
    assert send(alice, group.pk, "계속")["seq"] == before + 1


def test_message_send_direct_room_query_count(alice, direct):
    send(alice, direct.pk, "warm up")
    with CaptureQueriesContext(connection) as queries:
        send(alice, direct.pk, "hello")

    assert len(queries.captured_queries) <= 8
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 2
