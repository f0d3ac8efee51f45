"""Mixed load like real users: each simulated user holds a socket, and after a think time
(exponential, mean --think seconds) sends a message, opens a room and reads its newest page,
marks a room read, types, looks at the room list over REST, or now and then reconnects (then
lists its rooms, as a catch-up). Users are added in steps; each step is held --step-seconds
and measured. The answer is the largest step whose requests (REST and socket acks together)
averaged <= 100 ms with p99 <= 2 s and under 1 % errors."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import queue
import random
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import websockets

from bench.common import (
    Ticker,
    ensure_users,
    mean,
    new_marker,
    percentile,
    raise_fd_limit,
    tokens_for,
)
from bench.env import Server

MEAN_MS_MAX = 100.0
P99_MS_MAX = 2000.0
ERROR_RATE_MAX = 0.01
ACTIONS = [
    ("send", 35),
    ("open", 10),
    ("read", 15),
    ("typing", 15),
    ("rooms", 20),
    ("reconnect", 5),
]


class User:
    def __init__(self, spec: tuple, http: httpx.AsyncClient, record, think: float) -> None:
        self.token, self.rooms, self.ws_base, self.http_base = spec
        self.http = http
        self.record = record
        self.think = think
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.last_seq: dict[int, int] = {}
        self.pending: dict[str, asyncio.Future] = {}
        self.last_typing: dict[int, float] = {}
        self.ws: Any = None
        self.reader: asyncio.Task | None = None
        self.next_id = 0

    async def connect(self, op: str = "connect") -> None:
        started = time.monotonic()
        self.ws = await websockets.connect(
            self.ws_base + self.token,
            max_size=None,
            ping_interval=None,
            open_timeout=120,
            compression=None,
        )
        self.record(op, (time.monotonic() - started) * 1000, True)
        self.reader = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: Any) -> None:
        try:
            async for text in ws:
                frame = json.loads(text)
                if "ack" in frame:
                    future = self.pending.pop(str(frame["ack"]), None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif frame.get("ev") == "message":
                    data = frame["data"]
                    room = data["room_id"]
                    self.last_seq[room] = max(self.last_seq.get(room, 0), int(data["seq"]))
        except websockets.ConnectionClosed:
            pass

    async def request(self, op: str, ev: str, data: dict[str, Any]) -> None:
        self.next_id += 1
        request_id = str(self.next_id)
        future = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        started = time.monotonic()
        try:
            await self.ws.send(json.dumps({"id": request_id, "ev": ev, "data": data}))
            frame = await asyncio.wait_for(future, 30)
            ok = bool(frame["ok"]) or frame["error"]["code"] == "rate_limited"
        except Exception:
            self.pending.pop(request_id, None)
            ok = False
        self.record(op, (time.monotonic() - started) * 1000, ok)

    async def get(self, op: str, path: str, **params: Any) -> Any:
        started = time.monotonic()
        try:
            response = await self.http.get(
                self.http_base + path, params=params, headers=self.headers
            )
            ok = response.status_code == 200
        except Exception:
            response, ok = None, False
        self.record(op, (time.monotonic() - started) * 1000, ok)
        return response.json() if ok and response is not None else None

    async def run(self, stopping: asyncio.Event) -> None:
        await self.connect()
        await self.get("rooms", "/api/rooms")
        names = [name for name, _w in ACTIONS]
        weights = [w for _n, w in ACTIONS]
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), random.expovariate(1 / self.think))
                break
            except TimeoutError:
                pass
            action = random.choices(names, weights)[0]
            room = random.choice(self.rooms)
            if action == "send":
                data = {"room_id": room, "msg_id": str(uuid.uuid4()), "type": "talk"}
                await self.request("send", "send_msg", data | {"body": "안녕하세요 mixed"})
            elif action == "open":
                await self.request("open_room", "open_room", {"room_id": room})
                await self.get("history", f"/api/rooms/{room}/messages", limit=50)
            elif action == "read":
                seq = self.last_seq.get(room)
                if seq:
                    await self.request("read", "read", {"room_id": room, "seq": seq})
            elif action == "typing":
                if time.monotonic() - self.last_typing.get(room, -10) >= 2.5:
                    self.last_typing[room] = time.monotonic()
                    await self.request("typing", "typing", {"room_id": room})
            elif action == "rooms":
                await self.get("rooms", "/api/rooms")
            elif action == "reconnect":
                await self.ws.close()
                if self.reader is not None:
                    await asyncio.gather(self.reader, return_exceptions=True)
                await self.connect("reconnect")
                await self.get("rooms", "/api/rooms")
        await self.ws.close()


def mixed_worker(wid: int, think: float, step, control, report) -> None:
    raise_fd_limit()
    try:
        asyncio.run(_mixed_worker(wid, think, step, control, report))
    except Exception as error:  # reported to the driver
        report.put(("error", wid, repr(error)))


async def _mixed_worker(wid: int, think: float, step, control, report) -> None:
    samples: list[tuple[int, str, float, bool]] = []

    def record(op: str, ms: float, ok: bool) -> None:
        samples.append((step.value, op, ms, ok))

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    tasks: list[asyncio.Task] = []
    # Few REST requests in flight per client process: each holds a server database connection.
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        reading = loop.run_in_executor(None, control.get)
        while True:
            done, _ = await asyncio.wait([reading], timeout=1)
            if samples:
                report.put(("samples", wid, samples[:]))
                samples.clear()
            failed = [t for t in tasks if t.done() and t.exception() is not None]
            if failed:
                raise failed[0].exception()
            if not done:
                continue
            command = reading.result()
            if command[0] == "stop":
                stopping.set()
                await asyncio.wait(tasks, timeout=30)
                report.put(("stopped", wid))
                return
            reading = loop.run_in_executor(None, control.get)
            if command[0] == "add":
                users = [User(spec, http, record, think) for spec in command[1]]
                tasks.extend(asyncio.create_task(u.run(stopping)) for u in users)


def prepare(count: int, room_size: int, progress) -> list[tuple[str, list[int]]]:
    """Fresh users, each in two groups of room_size: its block's and a shuffled one's."""
    from messages import services

    marker = new_marker()
    started = time.monotonic()
    users = ensure_users([f"mx{marker}{i:05d}" for i in range(count)])
    rooms: list[list[int]] = [[] for _ in users]
    order = list(range(count))
    random.Random(7).shuffle(order)
    for grouping in (list(range(count)), order):
        for start in range(0, count, room_size):
            members = [grouping[i] for i in range(start, min(start + room_size, count))]
            if len(members) < 3:
                continue
            owner, *others = [users[i] for i in members]
            room, _ = services.room_create(actor=owner, member_ids=[u.user_id for u in others])
            for i in members:
                rooms[i].append(room.pk)
        progress(f"rooms: {sum(len(r) for r in rooms)} memberships")
    tokens = tokens_for(users)
    progress(f"{count} users ready in {time.monotonic() - started:.1f} s")
    return [(tokens[i], rooms[i] or [rooms[0][0]]) for i in range(count)]


def run_mixed(
    *,
    steps: list[int],
    step_seconds: float,
    think: float,
    room_size: int,
    processes: int,
    workers: int,
    max_seconds: float,
    progress,
) -> list[dict[str, Any]]:
    raise_fd_limit()
    began = time.monotonic()
    people = prepare(max(steps), room_size, progress)
    servers = [Server("uvicorn") for _ in range(processes)]
    ctx = multiprocessing.get_context("spawn")
    step = ctx.Value("i", -1)
    report = ctx.Queue()
    controls, procs = [], []
    rows: list[dict[str, Any]] = []
    samples: list[tuple[int, str, float, bool]] = []

    def drain(seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            try:
                msg = report.get(timeout=min(left, 1))
            except queue.Empty:
                continue
            if msg[0] == "error":
                raise RuntimeError(f"client process {msg[1]} failed: {msg[2]}")
            if msg[0] == "samples":
                samples.extend(msg[2])

    try:
        for wid in range(workers):
            control = ctx.Queue()
            proc = ctx.Process(
                target=mixed_worker, args=(wid, think, step, control, report), daemon=True
            )
            proc.start()
            controls.append(control)
            procs.append(proc)
        active = 0
        for number, size in enumerate(steps):
            if time.monotonic() - began + step_seconds > max_seconds:
                progress(f"--max-seconds {max_seconds:.0f} reached before {size} users")
                break
            step.value = -1
            fresh = people[active:size]
            for i, (token, room_ids) in enumerate(fresh):
                server = servers[(active + i) % processes]
                controls[(active + i) % workers].put(
                    ("add", [(token, room_ids, server.ws, server.http)])
                )
            active = size
            progress(f"step {number + 1}: {size} users (adding {len(fresh)})")
            # Let the new users connect before measuring (at most step_seconds).
            settle_end = time.monotonic() + step_seconds
            while time.monotonic() < settle_end:
                drain(1)
                connects = sum(1 for s in samples if s[1] == "connect")
                if connects >= size:
                    break
            step.value = number
            tick = Ticker(progress, every=5)
            end = time.monotonic() + step_seconds
            while time.monotonic() < end:
                drain(1)
                current = [s for s in samples if s[0] == number]
                tick(
                    f"  {len(current)} requests, mean "
                    f"{mean([s[2] for s in current]):.0f} ms, p99 "
                    f"{percentile([s[2] for s in current], 99):.0f} ms"
                )
            step.value = -1
            drain(1)
            row = _step_row(number, size, [s for s in samples if s[0] == number], step_seconds)
            rows.append(row)
            progress(
                f"  {size} users: {row['requests_per_s']:.0f} req/s, mean {row['mean_ms']:.0f} ms, "
                f"p99 {row['p99_ms']:.0f} ms, errors {row['errors']} -> "
                + ("held" if row["held"] else "not held")
            )
            if not row["held"]:
                break
        return rows
    finally:
        for control in controls:
            control.put(("stop",))
        for proc in procs:
            proc.join(40)
            if proc.is_alive():
                proc.terminate()
        for server in servers:
            server.stop()


def _step_row(number: int, users: int, samples: list, seconds: float) -> dict[str, Any]:
    latencies = [s[2] for s in samples if s[1] != "connect"]
    errors = sum(1 for s in samples if not s[3])
    by_op: dict[str, list[float]] = {}
    for _step, op, ms, _ok in samples:
        by_op.setdefault(op, []).append(ms)
    mean_ms = mean(latencies)
    p99 = percentile(latencies, 99)
    error_rate = errors / len(samples) if samples else 1.0
    return {
        "step": number + 1,
        "users": users,
        "requests": len(latencies),
        "requests_per_s": len(latencies) / seconds,
        "mean_ms": mean_ms,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": p99,
        "errors": errors,
        "ops": {
            op: {
                "count": len(v),
                "p50_ms": percentile(v, 50),
                "p99_ms": percentile(v, 99),
            }
            for op, v in sorted(by_op.items())
        },
        "error_ops": dict(Counter(s[1] for s in samples if not s[3])),
        "held": bool(latencies)
        and mean_ms <= MEAN_MS_MAX
        and p99 <= P99_MS_MAX
        and error_rate <= ERROR_RATE_MAX,
    }
