"""Open clients hear when a member is deactivated or comes back (room_updated with the new
member count), through the real gateway and channel layer; the 1:1 survivor's send is refused
over the socket as over REST."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async

from messages import services
from orgsync.services import users_set_active
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def scene():
    admin = UserFactory(user_id="it.admin", is_staff=True, is_superuser=True)
    alice, bob, carol = (UserFactory(user_id=u) for u in ("alice", "bob", "carol"))
    room, _ = services.room_create(actor=alice, member_ids=["bob", "carol"])
    direct, _ = services.room_open_direct(actor=alice, peer=carol)
    services.message_send(actor=alice, room_id=direct.pk, msg_id=uuid.uuid4(), body="안녕")
    return admin, alice, bob, carol, room, direct


@sync_to_async
def set_active(admin, user, active: bool) -> None:
    users_set_active(actor=admin, user_pks=[user.pk], active=active)


async def test_deactivation_and_reactivation_push_the_room_to_open_clients(clients):
    admin, alice, bob, carol, room, direct = await scene()
    a = await clients(alice)
    b = await clients(bob)

    await set_active(admin, carol, False)

    pushed = (await b.push("room_updated"))["data"]
    assert (pushed["room_id"], pushed["member_count"]) == (room.pk, 2)
    seen = {}
    for _ in range(2):
        data = (await a.push("room_updated"))["data"]
        seen[data["room_id"]] = data
    assert seen[room.pk]["member_count"] == 2
    assert seen[direct.pk]["members"][1] == {
        "user_id": "carol",
        "name": carol.name,
        "active": False,
    }

    refused = await a.request(
        "send_msg", {"room_id": direct.pk, "msg_id": str(uuid.uuid4()), "body": "있어요?"}
    )
    assert refused["ok"] is False
    assert refused["error"]["code"] == "peer_deactivated"

    await set_active(admin, carol, True)

    assert (await b.push("room_updated"))["data"]["member_count"] == 3
