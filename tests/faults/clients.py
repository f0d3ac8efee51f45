"""A chat client as a real one behaves under faults: it keeps what is not acked and sends it
again with the same msg_id, reconnects (to whichever server answers) and catches up by seq
over REST (docs/protocol.md), and keeps one timeline per room keyed by seq."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter, deque
from typing import Any

import httpx
import websockets

# Error acks after which the same message is sent again (the server asks for a retry).
RETRYABLE = {"unavailable", "internal"}
ACK_TIMEOUT = 10.0


class Client:
    def __init__(self, *, name: str, token: str, room_id: int, servers: list[Any]) -> None:
        self.name = name
        self.token = token
        self.room_id = room_id
        self.servers = servers
        self.next_server = 0
        self.ws: Any = None
        self.server: Any = None
        self.reader: asyncio.Task | None = None
        self.waiting: dict[str, asyncio.Future] = {}
        self.timeline: dict[int, dict[str, Any]] = {}
        self.received: Counter[str] = Counter()  # how each message first reached the timeline
        self.duplicates = 0  # the same message again (push and catch-up overlap): deduped
        self.conflicts = 0  # a seq that came with two different msg_ids: must never happen
        self.out_of_order = 0  # a live push below the highest seq seen
        self.todo: deque[tuple[str, str]] = deque()
        self.acked: dict[str, int] = {}
        self.sent = 0
        self.retries = 0
        self.timeouts = 0
        self.error_acks: Counter[str] = Counter()
        self.close_codes: Counter[str] = Counter()
        self.connects = 0
        self.connect_failures = 0
        self.cut_next = False
        self.cuts = 0

    # --- timeline ------------------------------------------------------------------------

    def _add(self, message: dict[str, Any], how: str) -> None:
        if message.get("room_id") != self.room_id:
            return
        seq = message["seq"]
        held = self.timeline.get(seq)
        if held is not None:
            if held["msg_id"] != message["msg_id"]:
                self.conflicts += 1
            else:
                self.duplicates += 1
            return
        if how == "push" and self.timeline and seq < max(self.timeline):
            self.out_of_order += 1
        self.timeline[seq] = message
        self.received[how] += 1

    def contiguous_seq(self) -> int:
        seq = 0
        while seq + 1 in self.timeline:
            seq += 1
        return seq

    async def catch_up(self, how: str = "catch-up") -> None:
        """GET the room's messages after the last seq held without a gap."""
        after = self.contiguous_seq()
        async with httpx.AsyncClient(base_url=self.server.http, timeout=10) as http:
            while True:
                response = await http.get(
                    f"/api/rooms/{self.room_id}/messages",
                    params={"after_seq": after, "limit": 200},
                    headers={"Authorization": f"Bearer {self.token}"},
                )
                response.raise_for_status()
                page = response.json()
                for message in page["messages"]:
                    self._add(message, how)
                    after = max(after, message["seq"])
                if not page["has_more"]:
                    return

    # --- connection ----------------------------------------------------------------------

    async def connect(self) -> None:
        delay = 0.1
        while True:
            self.server = self.servers[self.next_server % len(self.servers)]
            self.next_server += 1
            try:
                self.ws = await websockets.connect(
                    f"{self.server.ws}?kind=web&token={self.token}",
                    open_timeout=5,
                    ping_interval=None,
                    max_size=None,
                )
                self.reader = asyncio.create_task(self._read(self.ws))
                # Subscribed first, then caught up: nothing can fall between the two.
                await self.catch_up()
                self.connects += 1
                return
            except (OSError, TimeoutError, websockets.WebSocketException, httpx.HTTPError):
                self.connect_failures += 1
                await self.drop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def drop(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
            self.ws.transport.abort()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await self.reader
        self.ws = None
        self.reader = None

    async def _read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if "ack" in frame:
                    waiter = self.waiting.pop(str(frame["ack"]), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(frame)
                elif frame.get("ev") == "message":
                    self._add(frame["data"], "push")
        except websockets.ConnectionClosed:
            pass
        finally:
            code = ws.close_code if ws.close_code is not None else "none"
            self.close_codes[str(code)] += 1
            for waiter in self.waiting.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("socket closed"))
            self.waiting.clear()

    # --- sending -------------------------------------------------------------------------

    def queue(self, count: int) -> None:
        self.todo.extend((str(uuid.uuid4()), f"{self.name}-{n:05d}") for n in range(count))

    async def send_all(self, *, pace: float) -> None:
        """Send everything queued; what is not acked stays first in line and is sent again."""
        backoff = 0.2
        while self.todo:
            if self.ws is None or self.reader is None or self.reader.done():
                await self.drop()
                await self.connect()
            msg_id, body = self.todo[0]
            request_id = uuid.uuid4().hex
            waiter = asyncio.get_running_loop().create_future()
            self.waiting[request_id] = waiter
            frame = {
                "id": request_id,
                "ev": "send_msg",
                "data": {"room_id": self.room_id, "msg_id": msg_id, "type": "talk", "body": body},
            }
            self.sent += 1
            try:
                await self.ws.send(json.dumps(frame))
                if self.cut_next:
                    # The connection is lost right after the frame left: the ack never comes.
                    self.cut_next = False
                    self.cuts += 1
                    self.ws.transport.abort()
                async with asyncio.timeout(ACK_TIMEOUT):
                    ack = await waiter
            except TimeoutError:
                self.timeouts += 1
                self.retries += 1
                await self.drop()
                continue
            except (ConnectionError, websockets.ConnectionClosed):
                self.retries += 1
                await self.drop()
                continue
            finally:
                self.waiting.pop(request_id, None)
            if ack["ok"]:
                self.todo.popleft()
                self.acked[msg_id] = ack["data"]["seq"]
                self._add(ack["data"], "ack")
                backoff = 0.2
                await asyncio.sleep(pace)
                continue
            code = ack["error"]["code"]
            self.error_acks[code] += 1
            if code not in RETRYABLE:
                raise AssertionError(f"{self.name}: send refused: {ack['error']}")
            self.retries += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def close(self) -> None:
        await self.drop()
