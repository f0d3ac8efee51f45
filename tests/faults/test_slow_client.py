"""A client that connects and never reads its socket, in a busy room: the others' delivery is
not slowed, the server's memory stays bounded, and the stuck socket is closed (4008) once its
bounded outbox is full (messenger.fanout / GatewayConsumer.deliver)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.faults.procs import FULL, AppServer

pytestmark = pytest.mark.faults

READERS = 5
STUCK = 10 if FULL else 3
# The outbox bound is a setting; the short run lowers it so that a stuck socket reaches it
# with fewer messages (the kernel's socket buffers take the first few megabytes).
QUEUE_MAX = 1000 if FULL else 50
MESSAGES = 1500 if FULL else 350  # per phase
BODY = "\U0001f4ac" * 4000  # the longest talk message: about 16 KB a frame


class StuckClient:
    """A raw TCP socket that sends the WebSocket handshake and then never reads."""

    def __init__(self, server: AppServer, token: str) -> None:
        self.sock = socket.socket()
        # A small receive window, so that the server's writes back up as they would behind a
        # slow mobile link; the kernel still buffers some on both sides.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /ws/?kind=web&token={token} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def ending(self) -> str:
        """Read what the server left on the socket (the client "wakes up"): how it ended."""
        self.sock.settimeout(5)
        data = b""
        how = "still open"
        try:
            while chunk := self.sock.recv(1 << 20):
                data += chunk
            how = "closed"
        except ConnectionResetError:
            how = "reset"
        except TimeoutError:
            pass
        finally:
            self.sock.close()
        code = _close_code(data)
        return f"close frame {code}" if code else f"{how} without a close frame"


def _close_code(data: bytes) -> int | None:
    """The code of the server's close frame in a raw byte stream (after the HTTP answer)."""
    head, _sep, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        return None
    while len(rest) >= 2:
        opcode, length = rest[0] & 0x0F, rest[1] & 0x7F
        start = 2
        if length == 126:
            length, start = int.from_bytes(rest[2:4], "big"), 4
        elif length == 127:
            length, start = int.from_bytes(rest[2:10], "big"), 10
        payload = rest[start : start + length]
        if opcode == 8 and len(payload) >= 2:
            return int.from_bytes(payload[:2], "big")
        rest = rest[start + length :]
    return None


async def _phase(
    server: AppServer, room: dict[str, Any], *, sampler: list[int]
) -> dict[str, float]:
    """The sender sends MESSAGES; the readers' delivery latency in ms (p50, p95, max)."""
    room_id = room["room_id"]
    sender_token = room["users"][0]["token"]
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    tag = uuid.uuid4().hex[:8]

    async def read(token: str, done: asyncio.Event) -> None:
        url = f"{server.ws}?kind=web&token={token}"
        got = 0
        async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
            done.set()
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("ev") != "message":
                    continue
                key = frame["data"]["msg_id"]
                if key in sent_at:
                    latencies.append((time.monotonic() - sent_at[key]) * 1000)
                    got += 1
                    if got == MESSAGES:
                        return

    ready = [asyncio.Event() for _ in range(READERS)]
    readers = [
        asyncio.create_task(read(room["users"][1 + i]["token"], ready[i])) for i in range(READERS)
    ]
    for event in ready:
        await event.wait()
    url = f"{server.ws}?kind=mobile&token={sender_token}"
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        for n in range(MESSAGES):
            msg_id = str(uuid.uuid4())
            sent_at[msg_id] = time.monotonic()
            frame = {
                "id": f"{tag}-{n}",
                "ev": "send_msg",
                "data": {"room_id": room_id, "msg_id": msg_id, "body": BODY},
            }
            await ws.send(json.dumps(frame, ensure_ascii=False))
            while json.loads(await ws.recv()).get("ack") != frame["id"]:
                pass
            sampler.append(server.rss_kb())
    async with asyncio.timeout(60):
        await asyncio.gather(*readers)
    latencies.sort()
    return {
        "p50": statistics.median(latencies),
        "p95": latencies[int(len(latencies) * 0.95)],
        "max": latencies[-1],
        "count": len(latencies),
    }


def test_stuck_client_does_not_slow_others_and_memory_stays_bounded(
    start_server, seed_room, report
):
    room = seed_room(prefix="stuck", count=1 + READERS + STUCK)
    server = start_server("slow", MESSENGER_SOCKET_QUEUE_MAX=str(QUEUE_MAX))
    log_path = server.log.name
    samples: list[int] = []

    without = asyncio.run(_phase(server, room, sampler=samples))
    rss_before = server.rss_kb()
    log_start = Path(log_path).stat().st_size
    stuck = [StuckClient(server, room["users"][1 + READERS + i]["token"]) for i in range(STUCK)]
    time.sleep(0.5)
    samples.clear()
    with_stuck = asyncio.run(_phase(server, room, sampler=samples))
    rss_peak = max(samples)
    closed = Path(log_path).read_bytes()[log_start:].count(b"closing slow socket")
    endings = [client.ending() for client in stuck]
    time.sleep(1)
    rss_after = server.rss_kb()
    report(
        f"[stuck clients] {STUCK} never-reading sockets, {READERS} readers, {MESSAGES} messages "
        f"of ~16 KB per phase, outbox bound {QUEUE_MAX}: others' latency ms without "
        f"p50 {without['p50']:.0f} / p95 {without['p95']:.0f} / max {without['max']:.0f}, "
        f"with p50 {with_stuck['p50']:.0f} / p95 {with_stuck['p95']:.0f} / max "
        f"{with_stuck['max']:.0f}; server RSS {rss_before // 1024} MiB before, peak "
        f"{rss_peak // 1024} MiB, {rss_after // 1024} MiB after; stuck sockets closed by the "
        f"server: {closed} ({', '.join(sorted(set(endings)))})"
    )
    assert with_stuck["count"] == without["count"] == MESSAGES * READERS
    # Every stuck socket was cut off at its bound; the frames it could not take are gone
    # from the server (its client catches up by seq when it comes back).
    assert closed == STUCK
    assert all(ending.startswith("close frame") for ending in endings), endings
    assert rss_peak - rss_before < 64 * 1024
    # Others are not held up by the stuck ones (loose: the machine is shared and noisy).
    assert with_stuck["p95"] < 3 * without["p95"] + 500
    assert server.proc.poll() is None
