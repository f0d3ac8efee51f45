"""Focus tracking through the gateway, and the `notify` push it governs: a web client with
the room open and focused gets no alert; one that lost focus or closed the room does."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async

from messages import services as message_services
from messenger import presence
from orgsync.models import User
from tests.factories import UserFactory
from tests.gateway.conftest import connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def pair(eager):
    alice = await sync_to_async(UserFactory)(user_id="f-alice", name="앨리스")
    bob = await sync_to_async(UserFactory)(user_id="f-bob", name="밥")
    room, _created = await sync_to_async(message_services.room_open_direct)(actor=alice, peer=bob)
    return alice, bob, room


async def say(user: User, room_id: int, body: str) -> None:
    await sync_to_async(message_services.message_send)(
        actor=user, room_id=room_id, msg_id=uuid.uuid4(), body=body
    )


async def focused(user: User, room_id: int) -> bool:
    pks = await sync_to_async(presence.room_focused_pks)(user_pks=[user.pk], room_id=room_id)
    return user.pk in pks


async def test_focused_room_gets_no_notify_then_blur_does(pair):
    alice, bob, room = pair
    client = await connect(bob)
    try:
        ack = await client.request("open_room", {"room_id": room.pk})
        assert ack["ok"]
        assert await focused(bob, room.pk)
        await say(alice, room.pk, "보고 있죠?")
        await client.push("message")
        assert await client.no_push("notify")

        ack = await client.request("focus", {"focused": False})
        assert ack == {"ack": ack["ack"], "ok": True, "data": {"focused": False}}
        assert not await focused(bob, room.pk)
        await say(alice, room.pk, "자리 비웠나요?")
        notify = (await client.push("notify"))["data"]
        assert (notify["room_id"], notify["body"], notify["count"]) == (
            room.pk,
            "자리 비웠나요?",
            1,
        )
        assert notify["title"] == "앨리스"

        await client.request("focus", {"focused": True})
        assert await focused(bob, room.pk)
        await client.request("close_room")
        assert not await focused(bob, room.pk)
    finally:
        await client.ws.disconnect()


async def test_focus_cleared_on_disconnect_and_refused_when_malformed(pair):
    _alice, bob, room = pair
    client = await connect(bob, kind="mobile")
    await client.request("open_room", {"room_id": room.pk})
    assert await focused(bob, room.pk)
    bad = await client.request("focus", {"focused": "yes"})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid"
    await client.ws.disconnect()
    assert not await focused(bob, room.pk)


async def test_room_open_on_web_but_not_focused_on_mobile(pair):
    alice, bob, room = pair
    web = await connect(bob, kind="web")
    mobile = await connect(bob, kind="mobile")
    try:
        await web.request("open_room", {"room_id": room.pk})
        # The mobile app is connected but shows no room: the web tab in view keeps both quiet.
        await say(alice, room.pk, "hi")
        assert await web.no_push("notify")
        assert await mobile.no_push("notify")
    finally:
        await web.ws.disconnect()
        await mobile.ws.disconnect()
