"""Reconnect storm: N clients online in rooms of --room-size; within --window seconds every
client's connection drops (the TCP connection is aborted) and the client reconnects and
catches up as docs/protocol.md says (GET /api/rooms, then GET /api/rooms/{id}/messages?
after_seq=<last seq it had> until has_more is false), while a sender keeps sending into every
room. Reports reconnect and catch-up times and checks that every client ends with every
acknowledged message exactly once (lost, doubled)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import multiprocessing.pool
import queue
import random
import threading
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import websockets

from bench.common import (
    Ticker,
    ensure_users,
    new_marker,
    percentile,
    raise_fd_limit,
    tokens_for,
)
from bench.env import Server

CONNECT_CONCURRENCY = 50
HTTP_CONNECTIONS = 8  # REST requests in flight per client process


class StormClient:
    def __init__(self, token: str, room_id: int, ws_base: str, http_base: str, tag: str):
        self.token = token
        self.room_id = room_id
        self.ws_url = ws_base + token
        self.http_base = http_base
        self.prefix = tag + ":"
        self.ws: Any = None
        self.last_seq = 0
        # index of the message -> set of (msg_id, seq) it was seen as
        self.seen: dict[int, set[tuple[str, int]]] = {}
        self.copies = 0  # pushes or catch-up rows of a msg_id already seen (deduped)
        self.reconnect_ms: float | None = None
        self.catchup_ms: float | None = None
        self.recovery_ms: float | None = None
        self.catchup_requests = 0
        self.errors: list[str] = []
        self.closed_codes: Counter[str] = Counter()
        self.reader: asyncio.Task | None = None

    def take(self, message: dict[str, Any]) -> None:
        if message.get("room_id") != self.room_id:
            return
        body = message.get("body") or ""
        seq = int(message["seq"])
        self.last_seq = max(self.last_seq, seq)
        if not body.startswith(self.prefix):
            return
        index = int(body[len(self.prefix) :])
        forms = self.seen.setdefault(index, set())
        key = (message["msg_id"], seq)
        if key in forms:
            self.copies += 1
        forms.add(key)

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.ws_url, max_size=None, ping_interval=None, open_timeout=120, compression=None
        )
        self.reader = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: Any) -> None:
        try:
            async for text in ws:
                if text.startswith('{"ev": "message"'):
                    self.take(json.loads(text)["data"])
        except websockets.ConnectionClosed:
            pass
        if ws.close_code not in (None, 1000, 1006):
            self.closed_codes[str(ws.close_code)] += 1

    async def storm(self, http: httpx.AsyncClient, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.time()))
        dropped = time.monotonic()
        self.ws.transport.abort()  # the network goes away: no close handshake
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
        known = self.last_seq
        started = time.monotonic()
        for attempt in range(5):
            try:
                await self.connect()
                break
            except Exception as error:
                self.errors.append(f"connect: {type(error).__name__}")
                await asyncio.sleep(0.5 * (attempt + 1))
        else:
            return
        opened = time.monotonic()
        self.reconnect_ms = (opened - started) * 1000
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            self.catchup_requests += 1
            rooms = (await http.get(f"{self.http_base}/api/rooms", headers=headers)).json()
            room = next((r for r in rooms["rooms"] if r["room_id"] == self.room_id), None)
            if room is None:
                self.errors.append("catch-up: room missing from GET /api/rooms")
            elif room["last_seq"] > known:
                after = known
                while True:
                    self.catchup_requests += 1
                    page = (
                        await http.get(
                            f"{self.http_base}/api/rooms/{self.room_id}/messages",
                            params={"after_seq": after, "limit": 200},
                            headers=headers,
                        )
                    ).json()
                    for message in page["messages"]:
                        self.take(message | {"room_id": self.room_id})
                        after = max(after, int(message["seq"]))
                    if not page.get("has_more"):
                        break
        except Exception as error:
            self.errors.append(f"catch-up: {type(error).__name__}: {str(error)[:80]}")
            return
        done = time.monotonic()
        self.catchup_ms = (done - opened) * 1000
        self.recovery_ms = (done - dropped) * 1000


def storm_client_process(wid: int, specs: list[tuple], tag: str, control, report) -> None:
    raise_fd_limit()
    try:
        asyncio.run(_storm_clients(wid, specs, tag, control, report))
    except Exception as error:  # reported to the driver
        report.put(("error", wid, repr(error)))


async def _storm_clients(wid: int, specs: list[tuple], tag: str, control, report) -> None:
    clients = [StormClient(*spec, tag=tag) for spec in specs]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(client: StormClient) -> None:
        async with gate:
            await client.connect()

    await asyncio.gather(*(connect(c) for c in clients))
    report.put(("connected", wid, len(clients)))
    loop = asyncio.get_running_loop()
    command = await loop.run_in_executor(None, control.get)
    if command[0] != "storm":
        return
    _kind, t0, window = command
    # Each REST request in flight holds a server thread and, under ASGI, a database
    # connection (docs/benchmarks.md): a few per client process keep MariaDB's
    # max_connections away.
    limits = httpx.Limits(
        max_connections=HTTP_CONNECTIONS, max_keepalive_connections=HTTP_CONNECTIONS
    )
    async with httpx.AsyncClient(limits=limits, timeout=120) as http:
        tasks = [
            asyncio.create_task(c.storm(http, t0 + random.uniform(0, window))) for c in clients
        ]
        storming = asyncio.gather(*tasks)
        while not storming.done():
            report.put(
                (
                    "progress",
                    wid,
                    sum(1 for c in clients if c.reconnect_ms is not None),
                    sum(1 for c in clients if c.catchup_ms is not None),
                )
            )
            await asyncio.wait([storming], timeout=1)
        await storming
        report.put(("stormed", wid))
        await loop.run_in_executor(None, control.get)  # "finish": the sender is done
    await asyncio.gather(*(c.ws.close() for c in clients if c.ws), return_exceptions=True)
    report.put(
        (
            "result",
            wid,
            [
                {
                    "room_id": c.room_id,
                    "seen": {i: len(forms) for i, forms in c.seen.items()},
                    "copies": c.copies,
                    "reconnect_ms": c.reconnect_ms,
                    "catchup_ms": c.catchup_ms,
                    "recovery_ms": c.recovery_ms,
                    "requests": c.catchup_requests,
                    "errors": c.errors,
                    "closed": dict(c.closed_codes),
                }
                for c in clients
            ],
        )
    )


def prepare(count: int, room_size: int, progress) -> tuple[str, Any, list[int], list[str], str]:
    """Fresh users (so nobody has rooms from earlier runs) and rooms of room_size + sender."""
    marker = new_marker()
    started = time.monotonic()
    sender, *users = ensure_users([f"st{marker}s"] + [f"st{marker}{i:05d}" for i in range(count)])
    room_ids: list[int] = []
    from messages import services

    for start in range(0, count, room_size):
        group = users[start : start + room_size]
        room, _ = services.room_create(actor=sender, member_ids=[u.user_id for u in group])
        room_ids.extend([room.pk] * len(group))
    tokens = tokens_for([sender, *users])
    progress(
        f"{count} users in {len(set(room_ids))} rooms ready in {time.monotonic() - started:.1f} s"
    )
    return marker, sender, room_ids, tokens, f"storm{marker}"


async def _send(
    server: Server,
    token: str,
    rooms: list[int],
    tag: str,
    rate: float,
    plan,
    sent,
    acked,
    refused,
) -> None:
    """Connect, then send round-robin into the rooms at `rate` per second from the storm's
    start until its end (`plan`: a one-item queue giving (start, until) wall times)."""
    async with websockets.connect(
        server.ws + token, max_size=None, ping_interval=None, compression=None, open_timeout=60
    ) as ws:
        loop = asyncio.get_running_loop()
        connected, schedule = plan
        connected.set()
        begin, until, give_up = await loop.run_in_executor(None, schedule.get)
        await asyncio.sleep(max(0.0, begin - time.time()))
        pending: dict[str, int] = {}

        async def read() -> None:
            async for text in ws:
                if text.startswith('{"ack"'):
                    frame = json.loads(text)
                    index = pending.pop(str(frame["ack"]), None)
                    if index is not None and frame["ok"]:
                        acked[index] = frame["data"]["room_id"]
                    elif index is not None:
                        refused[index] = frame["error"]["code"] + ": " + frame["error"]["message"]

        reader = asyncio.create_task(read())
        index = 0
        start = time.monotonic()
        while time.time() < until:
            room_id = rooms[index % len(rooms)]
            data = {
                "room_id": room_id,
                "msg_id": str(uuid.uuid4()),
                "type": "talk",
                "body": f"{tag}:{index}",
            }
            pending[str(index)] = index
            sent[index] = room_id
            await ws.send(json.dumps({"id": str(index), "ev": "send_msg", "data": data}))
            index += 1
            wait = start + index / rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        # Acks may wait behind the storm's connects on the server: wait until the run's end.
        while pending and time.time() < give_up:
            await asyncio.sleep(0.1)
        reader.cancel()


def run_storm(
    *,
    count: int,
    room_size: int,
    processes: int,
    workers: int,
    window: float,
    rate: float,
    timeout: float,
    progress,
) -> dict[str, Any]:
    raise_fd_limit()
    _marker, _sender, room_ids, tokens, tag = prepare(count, room_size, progress)
    servers = [Server("uvicorn") for _ in range(processes)]
    ctx = multiprocessing.get_context("spawn")
    report = ctx.Queue()
    controls, procs = [], []
    try:
        specs = [
            (tokens[i + 1], room_ids[i], servers[i % processes].ws, servers[i % processes].http)
            for i in range(count)
        ]
        for wid in range(workers):
            control = ctx.Queue()
            proc = ctx.Process(
                target=storm_client_process,
                args=(wid, specs[wid::workers], tag, control, report),
                daemon=True,
            )
            proc.start()
            controls.append(control)
            procs.append(proc)
        deadline = time.monotonic() + timeout

        def next_report() -> Any:
            while True:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the storm did not finish in {timeout} s")
                try:
                    msg = report.get(timeout=1)
                except queue.Empty:
                    if not any(p.is_alive() for p in procs):
                        raise RuntimeError("the client processes exited") from None
                    continue
                if msg[0] == "error":
                    raise RuntimeError(f"client process {msg[1]} failed: {msg[2]}")
                return msg

        connected = 0
        for _ in procs:
            connected += next_report()[2]
            progress(f"connected {connected}/{count}")
        time.sleep(2)
        rooms = sorted(set(room_ids))
        sent: dict[int, int] = {}
        acked: dict[int, int] = {}
        refused: dict[int, str] = {}
        plan: queue.Queue = queue.Queue()
        connected_event = threading.Event()
        sender = multiprocessing.pool.ThreadPool(1).apply_async(
            asyncio.run,
            (
                _send(
                    servers[0],
                    tokens[0],
                    rooms,
                    tag,
                    rate,
                    (connected_event, plan),
                    sent,
                    acked,
                    refused,
                ),
            ),
        )
        # The sender connects before the storm.
        while not connected_event.wait(1):
            if sender.ready():
                sender.get()  # raises the sender's error
            if time.monotonic() > deadline:
                raise RuntimeError("the sender did not connect")
        t0 = time.time() + 3
        plan.put((t0 - 2, t0 + window + 3, time.time() + deadline - time.monotonic() - 30))
        for control in controls:
            control.put(("storm", t0, window))
        progress(f"storm: every client drops and reconnects within {window:.0f} s")
        reconnected = dict.fromkeys(range(workers), 0)
        caught = dict.fromkeys(range(workers), 0)
        stormed = set()
        tick = Ticker(progress)
        while len(stormed) < workers:
            msg = next_report()
            if msg[0] == "progress":
                reconnected[msg[1]], caught[msg[1]] = msg[2], msg[3]
            elif msg[0] == "stormed":
                stormed.add(msg[1])
            tick(
                f"reconnected {sum(reconnected.values())}/{count}, caught up "
                f"{sum(caught.values())}, sent {len(sent)}, acked {len(acked)}"
            )
        sender.get(timeout=max(1, deadline - time.monotonic()))
        progress(f"sender done: {len(sent)} sent, {len(acked)} acked; letting pushes arrive")
        time.sleep(3)
        for control in controls:
            control.put(("finish",))
        results: list[dict] = []
        for _ in procs:
            msg = next_report()
            while msg[0] != "result":
                msg = next_report()
            results.extend(msg[2])
        row = _summarise(results, sent, acked, count, room_size, processes, window, rate)
        row["send_refused"] = len(refused)
        row["send_errors"] = dict(Counter(refused.values()).most_common(3))
        row["send_unanswered"] = len(sent) - len(acked) - len(refused)
        return row
    finally:
        for control in controls:
            control.put(("finish",))
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
        for server in servers:
            server.stop()


def _summarise(results, sent, acked, count, room_size, processes, window, rate) -> dict[str, Any]:
    by_room: dict[int, set[int]] = {}
    for index, room_id in acked.items():
        by_room.setdefault(room_id, set()).add(index)
    lost = doubled = copies = clients_missing = 0
    errors: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    for client in results:
        expected = by_room.get(client["room_id"], set())
        seen = {int(i): n for i, n in client["seen"].items()}
        missing = len(expected - set(seen))
        lost += missing
        clients_missing += 1 if missing else 0
        doubled += sum(1 for n in seen.values() if n > 1)
        copies += client["copies"]
        errors.update(e.split(":")[0] + ": " + e.split(":", 1)[1][:60] for e in client["errors"])
        closed.update(client["closed"])
    reconnect = [c["reconnect_ms"] for c in results if c["reconnect_ms"] is not None]
    catchup = [c["catchup_ms"] for c in results if c["catchup_ms"] is not None]
    recovery = [c["recovery_ms"] for c in results if c["recovery_ms"] is not None]
    return {
        "clients": count,
        "room_size": room_size,
        "server_processes": processes,
        "window_s": window,
        "send_rate": rate,
        "sent": len(sent),
        "acked": len(acked),
        "expected_copies": sum(len(by_room.get(c["room_id"], ())) for c in results),
        "reconnected": len(reconnect),
        "caught_up": len(catchup),
        "reconnect_ms_p50": percentile(reconnect, 50),
        "reconnect_ms_p99": percentile(reconnect, 99),
        "catchup_ms_p50": percentile(catchup, 50),
        "catchup_ms_p99": percentile(catchup, 99),
        "recovery_ms_p99": percentile(recovery, 99),
        "catchup_requests": sum(c["requests"] for c in results),
        "lost": lost,
        "clients_missing_messages": clients_missing,
        "doubled": doubled,
        "deduped_copies": copies,
        "errors": dict(errors.most_common(5)),
        "closed_by_server": dict(closed),
    }
