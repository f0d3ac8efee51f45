"""WebSocket clients for the benchmark, speaking our protocol or socket.io's (Engine.IO 4),
with the same library and the same work per frame, so the two servers are compared fairly.

Receivers run in separate processes (`receiver_process`); the sender runs in the driver."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import websockets

CONNECT_CONCURRENCY = 100


class Protocol:
    """Our gateway's frames: {"id","ev","data"} in, {"ack"}/{"ev"} out."""

    name = "ours"

    async def handshake(self, ws: Any) -> None:
        return None

    def parse_message_body(self, text: str) -> str | None:
        if '"ev": "message"' not in text:
            return None
        frame = json.loads(text)
        return frame["data"]["body"]

    def send_frame(self, request_id: str, room_id: int, body: str) -> str:
        data = {"room_id": room_id, "msg_id": str(uuid.uuid4()), "type": "talk", "body": body}
        return json.dumps({"id": request_id, "ev": "send_msg", "data": data})

    def parse_ack(self, text: str) -> tuple[str, bool] | None:
        if not text.startswith('{"ack"'):
            return None
        frame = json.loads(text)
        return str(frame["ack"]), bool(frame["ok"])

    def pong(self, text: str) -> str | None:
        return None


class SocketIOProtocol(Protocol):
    """socket.io 4 over a plain WebSocket: "40" to join the namespace, "42[...]" events,
    "42<id>[...]" with an ack answered by "43<id>[...]", "2"/"3" ping/pong."""

    name = "socketio"

    async def handshake(self, ws: Any) -> None:
        opened = await ws.recv()
        assert opened.startswith("0"), opened
        await ws.send("40")
        joined = await ws.recv()
        assert joined.startswith("40"), joined

    def parse_message_body(self, text: str) -> str | None:
        if not text.startswith('42["message"'):
            return None
        return json.loads(text[2:])[1]["body"]

    def send_frame(self, request_id: str, room_id: int, body: str) -> str:
        data = {"room_id": room_id, "msg_id": str(uuid.uuid4()), "body": body}
        return f"42{request_id}" + json.dumps(["send_msg", data])

    def parse_ack(self, text: str) -> tuple[str, bool] | None:
        if not text.startswith("43"):
            return None
        bracket = text.index("[")
        payload = json.loads(text[bracket:])
        return text[2:bracket], bool(payload[0].get("ok"))

    def pong(self, text: str) -> str | None:
        return "3" if text == "2" else None


PROTOCOLS = {"ours": Protocol(), "socketio": SocketIOProtocol()}


async def open_socket(protocol: Protocol, url: str) -> Any:
    ws = await websockets.connect(url, max_size=None, ping_interval=None, open_timeout=60)
    await protocol.handshake(ws)
    return ws


async def _receive(
    protocol: Protocol, urls: list[str], marker: str, expected: int, deadline: float, ready, go
) -> dict[int, list[float]]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(url: str) -> Any:
        async with gate:
            return await open_socket(protocol, url)

    sockets = await asyncio.gather(*(connect(url) for url in urls))
    ready.put(len(sockets))
    received: dict[int, list[float]] = {}
    prefix = marker + ":"

    async def listen(ws: Any) -> None:
        count = 0
        while count < expected:
            remaining = deadline - time.time()
            if remaining <= 0:
                return
            try:
                text = await asyncio.wait_for(ws.recv(), remaining)
            except (TimeoutError, websockets.ConnectionClosed):
                return
            now = time.time()
            answer = protocol.pong(text)
            if answer is not None:
                await ws.send(answer)
                continue
            body = protocol.parse_message_body(text)
            if body is not None and body.startswith(prefix):
                received.setdefault(int(body[len(prefix) :]), []).append(now)
                count += 1

    await asyncio.gather(*(listen(ws) for ws in sockets))
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return received


def receiver_process(
    protocol_name: str,
    urls: list[str],
    marker: str,
    expected: int,
    deadline: float,
    ready,
    results,
    go=None,
) -> None:
    """A process holding many receiving sockets; puts {message index: [receive times]}."""
    protocol = PROTOCOLS[protocol_name]
    try:
        received = asyncio.run(_receive(protocol, urls, marker, expected, deadline, ready, go))
        results.put(received)
    except Exception as error:  # reported to the driver, which prints it and fails the run
        ready.put(-1)
        results.put({"error": repr(error)})


class Sender:
    """The sending member's socket: sends paced or in a burst, times each ack."""

    def __init__(self, protocol: Protocol, url: str, room_id: int, marker: str) -> None:
        self.protocol = protocol
        self.url = url
        self.room_id = room_id
        self.marker = marker
        self.sent_at: dict[int, float] = {}
        self.ack_ms: dict[int, float] = {}
        self.failed = 0
        self.unacked = 0

    async def __aenter__(self) -> Sender:
        self.ws = await open_socket(self.protocol, self.url)
        self._pending: dict[str, tuple[int, float, asyncio.Future]] = {}
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._reader.cancel()
        await self.ws.close()

    async def _read(self) -> None:
        async for text in self.ws:
            answer = self.protocol.pong(text)
            if answer is not None:
                await self.ws.send(answer)
                continue
            acked = self.protocol.parse_ack(text)
            if acked is None:
                continue
            request_id, ok = acked
            pending = self._pending.pop(request_id, None)
            if pending is None:
                continue
            index, started, future = pending
            self.ack_ms[index] = (time.time() - started) * 1000
            if not ok:
                self.failed += 1
            future.set_result(ok)

    async def send(self, index: int) -> asyncio.Future:
        request_id = str(index + 1)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        frame = self.protocol.send_frame(request_id, self.room_id, f"{self.marker}:{index}")
        started = time.time()
        self._pending[request_id] = (index, started, future)
        self.sent_at[index] = started
        await self.ws.send(frame)
        return future
