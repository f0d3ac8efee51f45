"""message_send_many: the talks a socket queued, stored in one transaction (the gateway's
send batches, docs/benchmarks.md "Send batches")."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from messages import services
from messages.models import Message
from messenger.errors import Conflict, InvalidInput, NotRoomMember, RateLimited
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
    real = services._append_many
    calls = []

    def failing(**kwargs):
        calls.append([row["body"] for row in kwargs["rows"]])
        result = real(**kwargs)
        raise DatabaseError("lost the connection")
        return result

    monkeypatch.setattr(services, "_append_many", failing)
    with pushes.committed(), pytest.raises(DatabaseError):
        services.message_send_many(actor=bob, room_id=group.pk, sends=[talk("a"), talk("b")])
    assert calls == [["a", "b"]]
    assert not Message.objects.filter(room=group, seq__gt=1).exists()
    assert pushes.of("message") == []
    group.refresh_from_db()
    assert group.last_seq == 1


def test_send_many_stores_a_batch_with_one_insert_and_constant_statements(alice, bob, group):
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
    assert sum(q.startswith("INSERT") for q in sql) == 1
    # Membership, lock, retry check, insert, room, watermark: the same for ten as for two.
    assert len(ten.captured_queries) == len(two.captured_queries)

    # A lone send has no savepoint of its own (the one left is the outer block's, inside the
    # test's own transaction); a batch has one, to fall back to one by one on a conflict.
    def savepoints(queries) -> int:
        return sum(q["sql"].startswith("SAVEPOINT") for q in queries.captured_queries)

    assert savepoints(one) == 1 and savepoints(two) == 2
    assert len(one.captured_queries) == len(two.captured_queries) - 2
    assert list(Message.objects.filter(room=group).values_list("seq", flat=True)) == list(
        range(1, 16)
    )


@pytest.fixture
def taken_meanwhile(alice, bob, direct, monkeypatch):
    """Call it for a talk of bob's whose msg_id alice stores in her 1:1 room during bob's next
    send, after his retry check found it free and before his INSERT (the rate limit is counted
    in between)."""

    def arm() -> dict:
        taken = talk("taken")
        real = services.rate_limit_take

        def racing(**kwargs):
            if kwargs["key"] == bob.pk:
                monkeypatch.setattr(services, "rate_limit_take", real)
                send(alice, direct.pk, "first", msg_id=taken["msg_id"])
            return real(**kwargs)

        monkeypatch.setattr(services, "rate_limit_take", racing)
        return taken

    return arm


def test_send_many_a_msg_id_taken_in_another_room_meanwhile_refuses_only_that_one(
    bob, group, taken_meanwhile
):
    """The unique index refuses the batch's INSERT: it is stored one by one around that one."""
    taken = taken_meanwhile()
    results = services.message_send_many(
        actor=bob, room_id=group.pk, sends=[talk("a"), dict(taken, body="b"), talk("c")]
    )
    assert results[0]["seq"] == 2 and results[2]["seq"] == 3
    assert isinstance(results[1], Conflict)
    assert list(Message.objects.filter(room=group, seq__gt=1).values_list("body", flat=True)) == [
        "a",
        "c",
    ]


def test_send_many_counts_the_rate_limit_once_for_the_batch(bob, group, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ENABLED": True, "send": "3/60s"}
    first = services.message_send_many(
        actor=bob, room_id=group.pk, sends=[talk(str(i)) for i in range(5)]
    )
    assert [r["seq"] for r in first[:3]] == [2, 3, 4]
    assert all(isinstance(r, RateLimited) for r in first[3:])
    # A retry of a stored one is answered, not counted; a new one is refused.
    again = services.message_send_many(
        actor=bob,
        room_id=group.pk,
        sends=[{"msg_id": first[0]["msg_id"], "body": "0"}, talk("new")],
    )
    assert again[0]["seq"] == 2 and isinstance(again[1], RateLimited)
    assert Message.objects.filter(room=group).count() == 4


def test_send_many_a_lone_refused_send_stores_nothing(bob, group):
    (result,) = services.message_send_many(
        actor=bob, room_id=group.pk, sends=[talk("bad", reply_to=str(uuid.uuid4()))]
    )
    assert isinstance(result, InvalidInput)
    assert not Message.objects.filter(room=group, seq__gt=1).exists()
    (after,) = services.message_send_many(actor=bob, room_id=group.pk, sends=[talk("good")])
    assert after["seq"] == 2


def test_send_many_a_retry_keeps_its_answer_when_the_only_new_one_conflicts(
    bob, group, taken_meanwhile
):
    """One new row besides a retry: the new one's conflict must not roll back the batch and
    turn the retry's answer into an error too."""
    (stored,) = services.message_send_many(actor=bob, room_id=group.pk, sends=[talk("kept")])
    taken = taken_meanwhile()
    retry, conflict = services.message_send_many(
        actor=bob,
        room_id=group.pk,
        sends=[{"msg_id": stored["msg_id"], "body": "kept"}, taken],
    )
    assert retry == stored
    assert isinstance(conflict, Conflict)
    assert Message.objects.filter(room=group, seq__gt=1).count() == 1


def test_send_says_whether_it_stored_the_message(bob, group):
    first = talk("once")
    payload, created = services.message_send(actor=bob, room_id=group.pk, **first)
    again, created_again = services.message_send(actor=bob, room_id=group.pk, **first)
    assert created and not created_again and again == payload
    with pytest.raises(InvalidInput):
        services.message_send(actor=bob, room_id=group.pk, **talk(""))
