"""Real server processes: REST on one, sockets on another, all sharing one Redis layer."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
import websockets

from messages import services as message_services
from tests.conftest import token_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.live


async def next_event(ws, ev: str, timeout: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("ev") == ev:
                return frame


async def request(ws, ev: str, data: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
    request_id = uuid.uuid4().hex
    await ws.send(json.dumps({"id": request_id, "ev": ev, "data": data}))
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("ack") == request_id:
                return frame


def test_rest_send_on_one_process_reaches_socket_on_another(start_server):
    alice = UserFactory(user_id="alice", name="앨리스")
    bob = UserFactory(user_id="bob", name="밥")
    room, _ = message_services.room_open_direct(actor=alice, peer=bob)
    server_a, server_b = start_server(), start_server()

    async def scenario() -> None:
        async with websockets.connect(f"{server_b.ws_url}?kind=web&token={token_for(bob)}") as ws:
            await asyncio.sleep(0.3)
            token = httpx.post(
                f"{server_a.url}/api/auth/token", json={"user_id": "alice", "password": PASSWORD}
            ).json()["access"]
            async with httpx.AsyncClient(base_url=server_a.url) as http:
                sent = await http.post(
                    f"/api/rooms/{room.pk}/messages",
                    json={"msg_id": str(uuid.uuid4()), "body": "REST에서 보냄"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            assert sent.status_code == 201, sent.text
            push = await next_event(ws, "message")
            assert push["data"]["body"] == "REST에서 보냄"
            assert push["data"]["seq"] == sent.json()["seq"]

    asyncio.run(scenario())


def test_two_processes_behave_as_one(start_server):
    alice = UserFactory(user_id="alice", name="앨리스")
    bob = UserFactory(user_id="bob", name="밥")
    carol = UserFactory(user_id="carol", name="캐럴")
    room, _ = message_services.room_create(actor=alice, member_ids=["bob", "carol"])
    server_a, server_b = start_server(), start_server()

    async def scenario() -> None:
        url_a = f"{server_a.ws_url}?kind=web&token={token_for(alice)}"
        url_b = f"{server_b.ws_url}?kind=web&token={token_for(bob)}"
        async with websockets.connect(url_a) as ws_a, websockets.connect(url_b) as ws_b:
            await asyncio.sleep(0.3)
            ack = await request(
                ws_a, "send_msg", {"room_id": room.pk, "msg_id": str(uuid.uuid4()), "body": "A→B"}
            )
            assert ack["ok"], ack
            assert (await next_event(ws_b, "message"))["data"]["body"] == "A→B"
            await request(ws_b, "open_room", {"room_id": room.pk})
            read = await next_event(ws_a, "read")
            assert read["data"]["user_id"] == "bob" and read["data"]["seq"] == ack["data"]["seq"]
            ack = await request(
                ws_b, "send_msg", {"room_id": room.pk, "msg_id": str(uuid.uuid4()), "body": "B→A"}
            )
            assert ack["ok"], ack
            got = await next_event(ws_a, "message")
            while got["data"]["body"] != "B→A":
                got = await next_event(ws_a, "message")

            # A newer web connection of bob on the other process replaces the older one.
            url_b_again = f"{server_a.ws_url}?kind=web&token={token_for(bob)}"
            async with websockets.connect(url_b_again) as ws_b2:
                replaced = await next_event(ws_b, "session_replaced")
                assert replaced["data"]["message"]
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    async with asyncio.timeout(10):
                        while True:
                            await ws_b.recv()
                assert closed.value.rcvd.code == 4002
                ack = await request(ws_b2, "alive", {})
                assert ack["ok"]
        assert carol.user_id == "carol"

    asyncio.run(scenario())


def test_uvicorn_serves_the_same_application(start_server):
    alice = UserFactory(user_id="alice", name="앨리스")
    server = start_server("uvicorn")

    async def scenario() -> None:
        url = f"{server.ws_url}?kind=mobile&token={token_for(alice)}"
        async with websockets.connect(url) as ws:
            ack = await request(ws, "alive", {})
            assert ack["ok"] and ack["data"]["server_time"]

    asyncio.run(scenario())
