"""The WebSocket gateway through WebsocketCommunicator, on the Redis channel layer."""

from __future__ import annotations

import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from messages import services as message_services
from messages.models import Message
from orgsync.models import User
from rooms.models import RoomMember
from tests.factories import UserFactory
from tests.gateway.conftest import connect

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def make(user_id: str) -> User:
    return UserFactory(user_id=user_id, name=user_id.title())


@sync_to_async
def make_group(owner: User, *others: User):
    room, _ = message_services.room_create(actor=owner, member_ids=[o.user_id for o in others])
    return room


@sync_to_async
def leave(user: User, room_id: int) -> None:
    message_services.room_leave(actor=user, room_id=room_id)


def new_id() -> str:
    return str(uuid.uuid4())


async def test_connect_without_token_closes_with_4001():
    client = await connect(None, token="not-a-token")
    closed = await client.ws.receive_output(5)
    assert closed == {"type": "websocket.close", "code": 4001}


async def test_connect_disabled_account_closes_with_4003():
    user = await make("gone")
    user.is_active = False
    await sync_to_async(user.save)()
    from tests.conftest import token_for

    client = await connect(None, token=token_for(user))
    closed = await client.ws.receive_output(5)
    assert closed == {"type": "websocket.close", "code": 4003}


async def test_send_msg_acks_stored_message_and_pushes_to_members(clients):
    alice, bob, carol = await make("alice"), await make("bob"), await make("carol")
    room = await make_group(alice, bob, carol)
    a, b = await clients(alice), await clients(bob)
    msg_id = new_id()
    ack = await a.request(
        "send_msg", {"room_id": room.pk, "msg_id": msg_id, "type": "talk", "body": "안녕하세요"}
    )
    assert ack["ok"] is True
    assert ack["data"]["seq"] == 2 and ack["data"]["msg_id"] == msg_id
    assert ack["data"]["unread"] == 2
    push = await b.push("message")
    assert push["data"]["msg_id"] == msg_id and push["data"]["body"] == "안녕하세요"
    assert push["data"]["sender"] == "alice"


async def test_send_msg_retry_with_same_msg_id_stores_once(clients):
    alice, bob = await make("alice"), await make("bob")
    room = await make_group(alice, bob, await make("carol"))
    a = await clients(alice)
    frame = {"room_id": room.pk, "msg_id": new_id(), "body": "once"}
    first = await a.request("send_msg", frame)
    second = await a.request("send_msg", frame)
    assert first["ok"] and second["ok"]
    assert first["data"]["seq"] == second["data"]["seq"]
    count = await sync_to_async(Message.objects.filter(room=room, body="once").count)()
    assert count == 1


async def test_every_room_event_refused_for_non_member_and_left_member(clients):
    alice, bob, carol = await make("alice"), await make("bob"), await make("carol")
    outsider = await make("mallory")
    room = await make_group(alice, bob, carol)
    stored = await sync_to_async(
        lambda: message_services.message_send(
            actor=alice, room_id=room.pk, msg_id=uuid.uuid4(), body="secret"
        )
    )()
    await leave(carol, room.pk)
    events = {
        "send_msg": {"room_id": room.pk, "msg_id": new_id(), "body": "x"},
        "open_room": {"room_id": room.pk},
        "read": {"room_id": room.pk, "seq": 1},
        "typing": {"room_id": room.pk},
        "invite": {"room_id": room.pk, "user_ids": ["mallory"]},
        "leave": {"room_id": room.pk},
    }
    for user in (outsider, carol):
        client = await clients(user)
        for ev, data in events.items():
            ack = await client.request(ev, data)
            assert ack["ok"] is False, (user.user_id, ev)
            # Answered as for a room that does not exist.
            assert ack["error"] == {"code": "not_found", "message": "No such room."}, ack
        assert await client.no_push("message")
    # Nothing leaked and nothing changed: the room has the same members and messages.
    assert stored[0]["seq"] == 2
    members = await sync_to_async(
        lambda: sorted(
            RoomMember.objects.filter(room=room, state="").values_list("user__user_id", flat=True)
        )
    )()
    assert members == ["alice", "bob"]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid"),
        ("[1, 2]", "invalid"),
        ('{"id": "x", "ev": "no_such_event"}', "unknown_event"),
        ('{"id": "x", "ev": "send_msg", "data": "text"}', "invalid"),
        ('{"id": "x", "ev": "send_msg", "data": {"room_id": "abc"}}', "invalid"),
        ('{"id": {"a": 1}, "ev": "alive"}', "invalid"),
        ('{"id": "x", "ev": "read", "data": {"room_id": 1, "seq": -5}}', "invalid"),
        ('{"id": "x", "ev": "create_room", "data": {"member_ids": "bob"}}', "invalid"),
    ],
)
async def test_bad_frame_gets_error_ack_and_connection_stays_up(clients, frame, code):
    alice = await make("alice")
    a = await clients(alice)
    await a.ws.send_to(text_data=frame)
    answer = await a.ack("x" if '"id": "x"' in frame else None)
    assert answer["ok"] is False
    assert answer["error"]["code"] == code
    assert answer["error"]["message"]
    alive = await a.request("alive")
    assert alive["ok"] is True and "server_time" in alive["data"]


async def test_oversize_frame_and_binary_frame_are_refused(clients):
    alice = await make("alice")
    a = await clients(alice)
    limit = settings.MESSENGER["WS_FRAME_MAX_BYTES"]
    await a.ws.send_to(text_data=json.dumps({"id": "big", "ev": "alive", "x": "가" * limit}))
    answer = await a.ack(None)
    assert answer["error"]["code"] == "too_large"
    await a.ws.send_to(bytes_data=b"\x00\x01")
    answer = await a.ack(None)
    assert answer["error"]["code"] == "invalid"
    assert (await a.request("alive"))["ok"]


async def test_send_msg_body_too_long_is_refused_and_nothing_stored(clients):
    alice, bob = await make("alice"), await make("bob")
    room = await make_group(alice, bob, await make("carol"))
    a = await clients(alice)
    too_long = "x" * (settings.MESSENGER["BODY_MAX_CHARS"] + 1)
    ack = await a.request("send_msg", {"room_id": room.pk, "msg_id": new_id(), "body": too_long})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid"
    count = await sync_to_async(Message.objects.filter(room=room, type="talk").count)()
    assert count == 0


async def test_typing_reaches_others_is_rate_limited_and_not_stored(clients):
    alice, bob = await make("alice"), await make("bob")
    room = await make_group(alice, bob, await make("carol"))
    a, b = await clients(alice), await clients(bob)
    first = await a.request("typing", {"room_id": room.pk})
    assert first["ok"] is True
    push = await b.push("typing")
    assert push["data"] == {"room_id": room.pk, "user_id": "alice"}
    again = await a.request("typing", {"room_id": room.pk})
    assert again["ok"] is False and again["error"]["code"] == "rate_limited"
    assert await a.no_push("typing")
    count = await sync_to_async(Message.objects.filter(room=room).count)()
    assert count == 1  # only the invite line of the room's creation


async def test_newer_connection_of_same_kind_replaces_older_with_4002(clients):
    alice = await make("alice")
    old = await clients(alice)
    mobile = await clients(alice, kind="mobile")
    await clients(alice)
    replaced = await old.push("session_replaced")
    assert replaced["data"]["message"]
    assert await old.ws.receive_output(5) == {"type": "websocket.close", "code": 4002}
    # The other kind is untouched.
    assert (await mobile.request("alive"))["ok"] is True


async def test_open_room_reads_up_to_last_seq_and_pushes_read(clients):
    alice, bob = await make("alice"), await make("bob")
    room = await make_group(alice, bob, await make("carol"))
    a, b = await clients(alice), await clients(bob)
    sent = await a.request("send_msg", {"room_id": room.pk, "msg_id": new_id(), "body": "hi"})
    ack = await b.request("open_room", {"room_id": room.pk})
    assert ack["ok"] and ack["data"]["last_read_seq"] == sent["data"]["seq"]
    read = await a.push("read")
    assert read["data"] == {"room_id": room.pk, "user_id": "bob", "seq": sent["data"]["seq"]}


async def test_create_room_invite_and_leave_over_socket(clients):
    alice, bob, carol = await make("alice"), await make("bob"), await make("carol")
    dave = await make("dave")
    a, c = await clients(alice), await clients(carol)
    created = await a.request("create_room", {"member_ids": ["bob", "carol"], "name": "팀"})
    assert created["ok"] and created["data"]["member_count"] == 3
    room_id = created["data"]["room_id"]
    updated = await c.push("room_updated")
    assert updated["data"]["room_id"] == room_id
    invited = await a.request("invite", {"room_id": room_id, "user_ids": ["dave"]})
    assert invited["ok"] and invited["data"]["message"]["type"] == "invite"
    assert invited["data"]["room"]["member_count"] == 4
    left = await c.request("leave", {"room_id": room_id})
    assert left["ok"]
    removed = await c.push("room_removed")
    assert removed["data"] == {"room_id": room_id}
    line = await a.push("message")
    while line["data"]["type"] != "leave":
        line = await a.push("message")
    assert line["data"]["sender"] == "carol"
    assert dave.user_id == "dave" and bob.user_id == "bob"


async def test_presence_pushed_to_direct_peer(clients):
    alice, bob = await make("alice"), await make("bob")
    await sync_to_async(lambda: message_services.room_open_direct(actor=alice, peer=bob))()
    a = await clients(alice)
    b = await clients(bob)
    online = await a.push("presence")
    while online["data"]["user_id"] != "bob":
        online = await a.push("presence")
    assert online["data"]["online"] is True and online["data"]["kinds"] == ["web"]
    await b.ws.disconnect()
    offline = await a.push("presence")
    assert offline["data"] == {"user_id": "bob", "online": False, "kinds": []}


async def test_alive_refreshes_presence_at_most_every_half_ttl(clients, monkeypatch):
    from messenger import presence
    from messenger.gateway import consumer

    alice = await make("alice")
    a = await clients(alice)
    assert (await sync_to_async(presence.presence_kinds)([alice.pk]))[alice.pk] == ["web"]
    await sync_to_async(presence.presence_clear)(
        user_pk=alice.pk, kind="web", conn_id=presence._cache().get(presence._key(alice.pk, "web"))
    )
    # Right after connecting (which marked presence) a heartbeat writes nothing.
    assert (await a.request("alive"))["ok"] is True
    assert await sync_to_async(presence.presence_kinds)([alice.pk]) == {}
    # Once half the TTL has passed, the next heartbeat refreshes the entry.
    monkeypatch.setattr(consumer, "PRESENCE_REFRESH_SECONDS", 0)
    assert (await a.request("alive"))["ok"] is True
    assert (await sync_to_async(presence.presence_kinds)([alice.pk]))[alice.pk] == ["web"]
