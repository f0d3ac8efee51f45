"""A socket's frames are answered in order; talk sends to one room that queued up behind the
frame being handled are stored together (messages.services.message_send_many)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from asgiref.sync import sync_to_async

from messages import services as message_services
from messages.models import Message
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def group_of(*user_ids: str):
    users = [UserFactory(user_id=u, name=u.title()) for u in user_ids]
    room, _ = message_services.room_create(
        actor=users[0], member_ids=[u.user_id for u in users[1:]]
    )
    return users, room


@sync_to_async
def stored(room) -> list[tuple[int, str]]:
    return list(Message.objects.filter(room=room, seq__gt=1).values_list("seq", "body"))


def frame(request_id: str, ev: str, data: dict) -> str:
    return json.dumps({"id": request_id, "ev": ev, "data": data})


def talk(request_id: str, room_id: int, body: str, **extra) -> str:
    data = {"room_id": room_id, "msg_id": str(uuid.uuid4()), "body": body, **extra}
    return frame(request_id, "send_msg", data)


async def acks(client, count: int) -> list[dict]:
    got = []
    while len(got) < count:
        answer = json.loads(await client.ws.receive_from(10))
        if "ack" in answer:
            got.append(answer)
    return got


@pytest.fixture
def batch_sizes(monkeypatch):
    sizes: list[int] = []
    real = message_services.message_send_many

    def spy(**kwargs):
        sizes.append(len(kwargs["sends"]))
        return real(**kwargs)

    monkeypatch.setattr(message_services, "message_send_many", spy)
    return sizes


async def test_sends_back_to_back_are_batched_and_answered_in_order(clients, batch_sizes):
    (alice, bob, _carol), room = await group_of("alice", "bob", "carol")
    a, b = await clients(alice), await clients(bob)
    for i in range(12):
        await a.ws.send_to(text_data=talk(f"s{i}", room.pk, f"m{i}"))
    answers = await acks(a, 12)

    assert [x["ack"] for x in answers] == [f"s{i}" for i in range(12)]
    assert all(x["ok"] for x in answers)
    assert [x["data"]["seq"] for x in answers] == list(range(2, 14))
    assert await stored(room) == [(i + 2, f"m{i}") for i in range(12)]
    # The first is handled alone (not held back); the rest had queued up behind it.
    assert sum(batch_sizes) == 12 and max(batch_sizes) > 1 and batch_sizes[0] == 1
    # The other member gets every push once, in seq order (a batch's pushes leave together).
    pushed = [(await b.push("message"))["data"]["seq"] for _ in range(12)]
    assert pushed == list(range(2, 14))
    assert await b.no_push("message")


async def test_other_frames_keep_their_place_between_sends(clients):
    (alice, _bob, _carol), room = await group_of("alice", "bob", "carol")
    a = await clients(alice)
    await a.ws.send_to(text_data=talk("s1", room.pk, "one"))
    await a.ws.send_to(text_data=talk("s2", room.pk, "two"))
    await a.ws.send_to(text_data=frame("r", "read", {"room_id": room.pk, "seq": 3}))
    await a.ws.send_to(text_data="not json")
    await a.ws.send_to(text_data=talk("bad", room.pk, "x", reply_to=str(uuid.uuid4())))
    await a.ws.send_to(text_data=talk("s3", room.pk, "three"))
    await a.ws.send_to(text_data=talk("elsewhere", 999999, "no such room"))
    await a.ws.send_to(text_data=talk("s4", room.pk, "four"))
    answers = await acks(a, 8)

    assert [x["ack"] for x in answers] == ["s1", "s2", "r", None, "bad", "s3", "elsewhere", "s4"]
    by_id = {x["ack"]: x for x in answers}
    # The read came after both sends were stored: seq 3 is there to read.
    assert by_id["r"]["ok"] and by_id["r"]["data"]["last_read_seq"] == 3
    assert by_id[None]["error"]["code"] == "invalid"
    assert by_id["bad"]["error"]["code"] == "invalid"
    assert by_id["elsewhere"]["error"]["code"] == "not_found"
    assert [by_id[k]["data"]["seq"] for k in ("s1", "s2", "s3", "s4")] == [2, 3, 4, 5]
    assert await stored(room) == [(2, "one"), (3, "two"), (4, "three"), (5, "four")]


async def test_frames_received_before_a_disconnect_are_still_stored(clients):
    (alice, _bob, _carol), room = await group_of("alice", "bob", "carol")
    a = await clients(alice)
    for i in range(8):
        await a.ws.send_to(text_data=talk(f"s{i}", room.pk, f"m{i}"))
    await a.ws.disconnect()
    assert await stored(room) == [(i + 2, f"m{i}") for i in range(8)]


async def test_a_database_outage_in_a_batch_answers_every_frame_and_stores_none(
    clients, monkeypatch
):
    from django.db import OperationalError

    (alice, _bob, _carol), room = await group_of("alice", "bob", "carol")
    a = await clients(alice)

    def down(**kwargs):
        raise OperationalError(2006, "MySQL server has gone away")

    monkeypatch.setattr(message_services, "message_send_many", down)
    for i in range(4):
        await a.ws.send_to(text_data=talk(f"s{i}", room.pk, f"m{i}"))
    answers = await acks(a, 4)
    assert [x["ack"] for x in answers] == ["s0", "s1", "s2", "s3"]
    assert {x["error"]["code"] for x in answers} == {"unavailable"}
    monkeypatch.undo()
    # The socket is still up and the next send goes through.
    await a.ws.send_to(text_data=talk("after", room.pk, "after"))
    (answer,) = await acks(a, 1)
    assert answer["ok"] and answer["data"]["seq"] == 2


async def test_a_full_inbox_holds_the_reader_back_until_a_frame_is_taken():
    from collections import deque

    from messenger.gateway import consumer as gateway

    consumer = gateway.GatewayConsumer()
    consumer.user = object()
    consumer.user_pk = 1
    consumer.inbox = deque()
    release = asyncio.Event()
    handled: list[list[str]] = []

    async def handle(batch):
        handled.append([frame.request_id for frame in batch])
        await release.wait()
        return True

    consumer._handle = handle
    ping = json.dumps({"id": "first", "ev": "alive"})
    await consumer.receive(ping)
    worker = consumer.frame_worker
    await asyncio.sleep(0)  # the worker takes the first frame and waits in handle()
    for i in range(gateway.INBOX_MAX):
        await consumer.receive(json.dumps({"id": f"f{i}", "ev": "alive"}))
    blocked = asyncio.create_task(consumer.receive(json.dumps({"id": "over", "ev": "alive"})))
    await asyncio.sleep(0.05)
    assert not blocked.done() and len(consumer.inbox) == gateway.INBOX_MAX
    release.set()
    await asyncio.wait_for(blocked, 1)
    await asyncio.wait_for(worker, 1)
    expected = ["first", *(f"f{i}" for i in range(gateway.INBOX_MAX)), "over"]
    assert [ids[0] for ids in handled] == expected
    # Nothing is left running once the inbox is empty.
    assert consumer.frame_worker is None
