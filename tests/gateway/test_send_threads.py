"""Sends of one process run side by side on the send threads (MESSENGER["SEND_THREADS"]):
the room lock still hands out every seq once and in order, and every member gets every
message."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from messages import services as message_services
from messages.models import Message
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def make_room(names: list[str]):
    users = [UserFactory(user_id=n, name=n.title()) for n in names]
    room, _ = message_services.room_create(
        actor=users[0], member_ids=[u.user_id for u in users[1:]]
    )
    return users, room


@sync_to_async
def stored_seqs(room_id: int) -> list[int]:
    return list(
        Message.objects.filter(room_id=room_id).order_by("seq").values_list("seq", flat=True)
    )


async def test_send_msg_from_many_sockets_at_once_gets_gapless_unique_seqs(clients):
    assert settings.MESSENGER["SEND_THREADS"] > 1, "the suite runs on MariaDB with send threads"
    users, room = await make_room(["amy", "ben", "cid", "dan"])
    sockets = [await clients(u) for u in users]
    per_socket = 5

    async def burst(client):
        acks = []
        for n in range(per_socket):
            data = {"room_id": room.pk, "msg_id": str(uuid.uuid4()), "body": f"{n}"}
            acks.append(await client.request("send_msg", data, timeout=20))
        return acks

    results = await asyncio.gather(*(burst(c) for c in sockets))

    total = per_socket * len(sockets)
    assert all(ack["ok"] for acks in results for ack in acks)
    seqs = sorted(ack["data"]["seq"] for acks in results for ack in acks)
    assert seqs == list(range(2, 2 + total))
    # One socket's sends keep their order.
    for acks in results:
        mine = [ack["data"]["seq"] for ack in acks]
        assert mine == sorted(mine)
    assert await stored_seqs(room.pk) == list(range(1, 2 + total))
    for client in sockets:
        got = {f["data"]["seq"] for f in client.pushes if f.get("ev") == "message"}
        while len(got) < total:
            got.add((await client.push("message", timeout=10))["data"]["seq"])
        assert got == set(seqs)
