"""Redis down: sends are stored and acked, new sockets connect, real-time pushes come back.

One uvicorn process with the production settings as shipped (the send rate limit on,
notifications on), on the private Redis, which is killed while people chat and started again
(empty) a few seconds later. Nobody should notice more than pushes pausing: every send during
the outage is stored and acked at once, a socket opened during the outage (with a socket
ticket, as the browser opens it) is accepted, REST
sends work, and once Redis is back the server closes its sockets with 1012 so that their
clients reconnect, catch up by seq and get pushes again.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.faults.procs import AppServer, Stack
from tests.faults.test_delivery import OUTAGE

pytestmark = pytest.mark.faults

SENDS_DURING_OUTAGE = 10


class Socket:
    """A socket of one person: acks by request id, pushes kept in order, the close code."""

    def __init__(self, server: AppServer, token: str, *, ticket: str | None = None) -> None:
        # A browser opens its socket with a single-use ticket; other clients with the token.
        credential = f"ticket={ticket}" if ticket else f"token={token}"
        self.url = f"{server.ws}?kind=web&{credential}"
        self.ws: Any = None
        self.reader: asyncio.Task | None = None
        self.acks: dict[str, asyncio.Future] = {}
        self.pushes: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self.close_code: int | None = None

    async def open(self) -> None:
        self.ws = await websockets.connect(self.url, open_timeout=5, ping_interval=None)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if "ack" in frame:
                    waiter = self.acks.pop(frame["ack"], None)
                    if waiter is not None:
                        waiter.set_result(frame)
                elif frame.get("ev") == "message":
                    self.pushes.append(frame["data"])
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    async def send(self, room_id: int, body: str) -> dict[str, Any]:
        request_id = uuid.uuid4().hex
        waiter = self.acks[request_id] = asyncio.get_running_loop().create_future()
        data = {"room_id": room_id, "msg_id": str(uuid.uuid4()), "type": "talk", "body": body}
        await self.ws.send(json.dumps({"id": request_id, "ev": "send_msg", "data": data}))
        async with asyncio.timeout(10):
            return await waiter

    async def push_of(self, body: str, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for push in self.pushes:
                    if push["body"] == body:
                        return push
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        await self.ws.close()
        await self.closed.wait()


async def stored_bodies(server: AppServer, token: str, room_id: int) -> list[str]:
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as http:
        page = (
            await http.get(
                f"/api/rooms/{room_id}/messages",
                params={"after_seq": 0, "limit": 200},
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
    return [m["body"] for m in page["messages"] if m["type"] == "talk"]


def test_redis_outage_sends_stored_and_sockets_accepted(
    stack: Stack, start_server, seed_room, report
):
    # The production defaults: the send rate limit counted in Redis, notifications queued
    # through Celery's broker (Redis) after each send.
    server = start_server(
        f"redis-outage-{uuid.uuid4().hex[:6]}",
        MESSENGER_RATE_SEND="120/60s",
        NOTIFICATIONS_ENABLED="1",
    )
    room = seed_room(prefix="rout", count=3)
    room_id = room["room_id"]
    alice, bob, carol = (user["token"] for user in room["users"])

    async def scenario() -> dict[str, Any]:
        a, b = Socket(server, alice), Socket(server, bob)
        await a.open()
        await b.open()
        before = await a.send(room_id, "before")
        assert before["ok"], before
        await b.push_of("before")

        await asyncio.to_thread(stack.redis.kill)
        down_at = time.monotonic()
        latencies = []
        for n in range(SENDS_DURING_OUTAGE):
            sent_at = time.monotonic()
            ack = await a.send(room_id, f"down-{n}")
            latencies.append(time.monotonic() - sent_at)
            # Stored and acked: the rate limit lets the send through while it cannot count.
            assert ack["ok"], ack
            assert ack["data"]["body"] == f"down-{n}"
        # A socket opened during the outage, as the browser opens it (with a socket ticket),
        # is accepted and can send.
        async with httpx.AsyncClient(base_url=server.http, timeout=30) as http:
            issued = await http.post(
                "/api/auth/ws-ticket", headers={"Authorization": f"Bearer {carol}"}
            )
        assert issued.status_code == 200, issued.text
        c = Socket(server, carol, ticket=issued.json()["ticket"])
        await c.open()
        ack = await c.send(room_id, "down-carol")
        assert ack["ok"], ack
        # REST sends too.
        async with httpx.AsyncClient(base_url=server.http, timeout=30) as http:
            rest = await http.post(
                f"/api/rooms/{room_id}/messages",
                json={"msg_id": str(uuid.uuid4()), "body": "down-rest"},
                headers={"Authorization": f"Bearer {bob}"},
            )
        assert rest.status_code == 201, rest.text
        assert not a.closed.is_set() and not b.closed.is_set()
        # An outage of a few seconds, as in tests/faults/test_delivery.py.
        await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))

        await asyncio.to_thread(stack.redis.start)
        outage = time.monotonic() - down_at
        # Back: the hub resubscribes and closes every socket it holds with 1012 (including
        # the one opened during the outage) so that its client reconnects and catches up.
        async with asyncio.timeout(30):
            for socket in (a, b, c):
                await socket.closed.wait()
        codes = [a.close_code, b.close_code, c.close_code]
        assert codes == [1012, 1012, 1012], codes
        restored = time.monotonic() - down_at - outage

        # Real-time pushes work again for the reconnected sockets.
        a, b = Socket(server, alice), Socket(server, bob)
        await a.open()
        await b.open()
        ack = await a.send(room_id, "after")
        assert ack["ok"], ack
        await b.push_of("after")
        await a.close()
        await b.close()

        bodies = await stored_bodies(server, alice, room_id)
        expected = ["before", *(f"down-{n}" for n in range(SENDS_DURING_OUTAGE))]
        expected += ["down-carol", "down-rest", "after"]
        assert bodies == expected
        return {
            "outage": outage,
            "restored": restored,
            "ack_max": max(latencies),
            "ack_median": sorted(latencies)[len(latencies) // 2],
        }

    figures = asyncio.run(scenario())
    log = Path(server.log.name).read_text(errors="replace")
    warnings = log.count("rate limits are not enforced")
    report(
        f"[redis outage, production defaults] {SENDS_DURING_OUTAGE} socket sends + 1 from a "
        f"socket opened during the outage + 1 REST send: all stored and acked (ack median "
        f"{figures['ack_median'] * 1000:.0f} ms, max {figures['ack_max'] * 1000:.0f} ms); "
        f"Redis down {figures['outage']:.1f} s, every socket closed with 1012 "
        f"{figures['restored']:.1f} s after it was back; rate-limit warnings logged: {warnings}"
    )
    # The server says the limits are off while Redis is down, once, not once per call.
    assert warnings == 1, log[-3000:]
