"""Prepared frames: uvicorn's WebSocket protocol with the write-a-serialised-frame extension
(messenger/gateway/uvicorn_protocol.py), on a real uvicorn server in this process and a real
client, and the gateway's choice between that write and its ASGI outbox."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import uvicorn
import websockets

from bench.env import free_port
from messenger import fanout
from messenger.gateway.consumer import GatewayConsumer
from messenger.gateway.uvicorn_protocol import EXTENSION, PreparedFrameProtocol

# A frame of each length encoding (7-bit, 16-bit, 64-bit) and text beyond ASCII.
TEXTS = ["{}", "가" * 42, "x" * 126, "나" * 30_000, "y" * 70_000]
JOINED = ["joined 1", "다" * 200, "joined 3"]


class App:
    """An ASGI app that accepts, writes TEXTS as prepared frames, and records what it saw."""

    def __init__(self) -> None:
        self.writes: list[bool] = []
        self.after_close: bool | None = None
        self.extension_seen = asyncio.Event()
        self.closed = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        write = scope["extensions"][EXTENSION]["write"]
        assert (await receive())["type"] == "websocket.connect"
        # Before the handshake is answered the socket takes no frames.
        self.writes.append(write(fanout.Push(b"early").wire))
        await send({"type": "websocket.accept"})
        self.extension_seen.set()
        for text in TEXTS:
            self.writes.append(write(fanout.Push(text.encode()).wire))
        # Several pushes in one write arrive as separate frames, in order.
        joined = fanout.Pushes(tuple(fanout.Push(t.encode()) for t in JOINED))
        self.writes.append(write(joined.wire))
        # Prepared frames and ASGI sends share the connection, in the order they were made.
        await send({"type": "websocket.send", "text": "via asgi"})
        assert (await receive())["type"] == "websocket.disconnect"
        self.after_close = write(fanout.Push(b"late").wire)
        self.closed.set()


@pytest.fixture
async def server():
    app = App()
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws=PreparedFrameProtocol,
        log_level="warning",
        lifespan="off",
    )
    serving = uvicorn.Server(config)
    task = asyncio.create_task(serving.serve())
    for _ in range(500):
        if serving.started:
            break
        await asyncio.sleep(0.02)
    yield app, f"ws://127.0.0.1:{port}/"
    serving.should_exit = True
    await asyncio.wait_for(task, 10)


async def test_prepared_frames_reach_a_real_client_whole_and_in_order(server):
    app, url = server
    async with websockets.connect(url, max_size=None) as ws:
        got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(len(TEXTS) + 4)]
    assert got == [*TEXTS, *JOINED, "via asgi"]
    await asyncio.wait_for(app.closed.wait(), 5)
    assert app.writes == [False] + [True] * (len(TEXTS) + 1)
    # A closed socket refuses prepared frames (the gateway then queues, and is cleaned up).
    assert app.after_close is False


def test_push_shares_one_text_and_one_frame_among_receivers():
    push = fanout.Push(json.dumps({"ev": "message", "data": {"body": "안녕"}}).encode())
    assert push.text is push.text
    assert push.wire is push.wire
    assert push.wire[0] == 0x81  # FIN + text opcode, no mask bit below
    assert push.wire[1] & 0x80 == 0


class Recorder:
    def __init__(self, accept: bool) -> None:
        self.accept = accept
        self.frames: list[bytes] = []

    def __call__(self, frame: bytes) -> bool:
        if self.accept:
            self.frames.append(frame)
        return self.accept


def consumer_with(write: Recorder | None) -> GatewayConsumer:
    consumer = GatewayConsumer()
    consumer.user_pk, consumer.kind, consumer.conn_id = 1, "web", "c"
    consumer.outbox = asyncio.Queue(10)
    consumer.unsent = 0
    consumer.write_prepared = write
    consumer.tasks = set()
    return consumer


async def test_gateway_writes_prepared_frames_and_queues_behind_a_backlog():
    write = Recorder(accept=True)
    consumer = consumer_with(write)
    consumer.deliver(fanout.Push(b"one"))
    assert [f[2:] for f in write.frames] == [b"one"]
    assert consumer.outbox.qsize() == 0

    # The transport is full: the push waits in the outbox for the ASGI writer ...
    write.accept = False
    consumer.deliver(fanout.Push(b"two"))
    assert consumer.unsent == 1
    # ... and later pushes stay behind it even when the transport takes frames again.
    write.accept = True
    consumer.deliver(fanout.Push(b"three"))
    assert [f[2:] for f in write.frames] == [b"one"]
    assert [consumer.outbox.get_nowait() for _ in range(2)] == ["two", "three"]


async def test_gateway_writes_several_pushes_at_once_or_queues_each_of_them():
    write = Recorder(accept=True)
    consumer = consumer_with(write)
    pushes = fanout.Pushes((fanout.Push(b"one"), fanout.Push(b"two")))
    consumer.deliver(pushes)
    assert write.frames == [pushes.wire]
    assert pushes.wire == fanout.Push(b"one").wire + fanout.Push(b"two").wire
    write.accept = False
    consumer.deliver(fanout.Pushes((fanout.Push(b"three"), fanout.Push(b"four"))))
    assert consumer.unsent == 2
    assert [consumer.outbox.get_nowait() for _ in range(2)] == ["three", "four"]


async def test_gateway_without_the_extension_queues_every_push():
    consumer = consumer_with(None)
    sent: list[str] = []

    async def send(text_data: str | None = None, **_: Any) -> None:
        sent.append(text_data or "")

    consumer.send = send  # the ASGI socket itself is covered by the live tests
    consumer.deliver(fanout.Push(b"a"))
    consumer.deliver(fanout.Push(b"b"))
    writer = asyncio.create_task(consumer._write_outbox())
    for _ in range(10):
        await asyncio.sleep(0)
    writer.cancel()
    assert sent == ["a", "b"]
    assert consumer.unsent == 0


async def test_gateway_answers_a_batch_in_one_write_or_each_through_asgi():
    write = Recorder(accept=True)
    consumer = consumer_with(write)
    sent: list[str] = []

    async def send(text_data: str | None = None, **_: Any) -> None:
        sent.append(text_data or "")

    consumer.send = send
    await consumer._answer_all(["ack 1", "ack 2", "ack 3"])
    # One write holding the three frames, in order; nothing through ASGI.
    assert write.frames == [
        b"".join(fanout.Push(t.encode()).wire for t in ("ack 1", "ack 2", "ack 3"))
    ]
    assert sent == []
    # A lone ack, or a batch the transport refuses, goes through ASGI one by one.
    await consumer._answer_all(["lone"])
    write.accept = False
    await consumer._answer_all(["ack 4", "ack 5"])
    assert sent == ["lone", "ack 4", "ack 5"]
    assert len(write.frames) == 1
