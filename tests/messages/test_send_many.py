"""message_send_many: the talks a socket queued, stored in one transaction (the gateway's
send batches, docs/benchmarks.md "Send batches")."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from messages import services
from messages.models import Message
from messenger.errors import Conflict, InvalidInput, NotRoomMember
from tests.conftest import send


def talk(body: str, **fields) -> dict:
    return {"msg_id": str(uuid.uuid4()), "body": body, **fields}


def test_send_many_stores_each_with_consecutive_seqs_and_publishes_after_commit(
    alice, bob, group, pushes
):
    with pushes.committed():
        results = services.message_send_many(
            actor=bob, room_id=group.pk, sends=[talk("하나"), talk("둘"), talk("셋")]
        )
    assert [r["body"] for r in results] == ["하나", "둘", "셋"]
    assert [r["seq"] for r in results] == [2, 3, 4]
    assert all(r["unread"] == 2 and r["sender"] == "bob" for r in results)
    assert [data for _users, data in pushes.of("message")] == results
    group.refresh_from_db()
    assert group.last_seq == 4 and group.last_msg_body == "셋"
    assert group.members.get(user=bob).last_read_seq == 4


def test_send_many_a_refused_one_stores_nothing_and_the_others_go_on(
    alice, bob, group, direct, pushes
):
    elsewhere = send(alice, direct.pk, "1:1")
    sends = [
        talk("first"),
        talk("bad reply", reply_to=str(uuid.uuid4())),
        {"msg_id": elsewhere["msg_id"], "body": "msg_id of another room"},
        {"msg_id": "not-a-uuid", "body": "bad msg_id"},
        talk("bad type", type="notice"),
        talk(""),
        talk("last"),
    ]
    with pushes.committed():
        results = services.message_send_many(actor=alice, room_id=group.pk, sends=sends)

    assert results[0]["seq"] == 2
    assert isinstance(results[1], InvalidInput)
    assert isinstance(results[2], Conflict)
    assert isinstance(results[3], InvalidInput)
    assert isinstance(results[4], InvalidInput)
    assert isinstance(results[5], InvalidInput)
    # No gap in seq where a refused one was rolled back.
    assert results[6]["seq"] == 3
    stored = list(Message.objects.filter(room=group, seq__gt=1).values_list("seq", "body"))
    assert stored == [(2, "first"), (3, "last")]
    assert [d["body"] for _u, d in pushes.of("message")] == ["first", "last"]
    group.refresh_from_db()
    assert group.last_seq == 3 and group.last_msg_body == "last"


def test_send_many_a_retry_in_the_batch_stores_once(bob, group):
    first = talk("once")
    results = services.message_send_many(
        actor=bob, room_id=group.pk, sends=[first, dict(first, body="changed"), talk("next")]
    )
    assert results[0] == results[1]
    assert results[2]["seq"] == results[0]["seq"] + 1
    assert Message.objects.filter(msg_id=first["msg_id"]).count() == 1
    again = services.message_send_many(actor=bob, room_id=group.pk, sends=[first])
    assert again[0]["seq"] == results[0]["seq"]


def test_send_many_by_a_stranger_is_refused_for_all(make_user, group):
    with pytest.raises(NotRoomMember):
        services.message_send_many(
            actor=make_user(user_id="eve"), room_id=group.pk, sends=[talk("a"), talk("b")]
        )
    assert not Message.objects.filter(room=group, seq__gt=1).exists()


def test_send_many_a_database_failure_rolls_back_every_one(bob, group, monkeypatch, pushes):
    real = services._append
    calls = []

    def failing(**kwargs):
        calls.append(kwargs["body"])
        if len(calls) == 2:
            raise DatabaseError("lost the connection")
        return real(**kwargs)

    monkeypatch.setattr(services, "_append", failing)
    with pushes.committed(), pytest.raises(DatabaseError):
        services.message_send_many(actor=bob, room_id=group.pk, sends=[talk("a"), talk("b")])
    assert calls == ["a", "b"]
    assert not Message.objects.filter(room=group, seq__gt=1).exists()
    assert pushes.of("message") == []
    group.refresh_from_db()
    assert group.last_seq == 1


def test_send_many_checks_membership_and_locks_the_room_once(alice, bob, group):
    send(bob, group.pk, "warm up")
    with CaptureQueriesContext(connection) as one:
        services.message_send_many(actor=bob, room_id=group.pk, sends=[talk("one")])
    with CaptureQueriesContext(connection) as two:
        services.message_send_many(actor=bob, room_id=group.pk, sends=[talk("a"), talk("b")])
    with CaptureQueriesContext(connection) as ten:
        services.message_send_many(
            actor=bob, room_id=group.pk, sends=[talk(str(i)) for i in range(10)]
        )
    sql = [q["sql"] for q in ten.captured_queries]
    assert sum("FOR UPDATE" in q for q in sql) == 1
    assert sum(q.startswith("INSERT") for q in sql) == 10
    # Per message: retry check, insert, room, watermark and its savepoint pair.
    per_message = (len(ten.captured_queries) - len(two.captured_queries)) / 8
    assert per_message <= 6
    # A lone send has no savepoint of its own (the one left is the outer block's, inside the
    # test's own transaction); each of two has one.
    def savepoints(queries) -> int:
        return sum(q["sql"].startswith("SAVEPOINT") for q in queries.captured_queries)

    assert savepoints(one) == 1 and savepoints(two) == 3


def test_send_many_a_lone_refused_send_stores_nothing(bob, group):
    (result,) = services.message_send_many(
        actor=bob, room_id=group.pk, sends=[talk("bad", reply_to=str(uuid.uuid4()))]
    )
    assert isinstance(result, InvalidInput)
    assert not Message.objects.filter(room=group, seq__gt=1).exists()
    (after,) = services.message_send_many(actor=bob, room_id=group.pk, sends=[talk("good")])
    assert after["seq"] == 2
