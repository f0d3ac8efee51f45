"""Idle connections: N authenticated WebSocket connections held by one server process.

Ramps the connections up from client processes, then measures the server process while the
connections sit idle: RSS per socket (RSS delta / sockets), CPU % over a quiet window with no
client traffic (only the server's own WebSocket pings), and CPU % over a window in which every
client sends the protocol's `alive` heartbeat (every 25 s, spread), as real clients do."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import queue
import random
import time
from collections import Counter
from typing import Any

import websockets

from bench.common import (
    Ticker,
    cpu_seconds,
    ensure_users,
    mean,
    open_fds,
    percentile,
    raise_fd_limit,
    rss_kb,
    tokens_for,
)
from bench.env import Server
from messenger.gateway.uvicorn_protocol import PING_INTERVAL_SECONDS

CONNECT_CONCURRENCY = 50


def idle_client_process(wid: int, urls: list[str], control, report) -> None:
    """A process holding many idle sockets, driven by commands on `control`."""
    raise_fd_limit()
    try:
        asyncio.run(_idle_client(wid, urls, control, report))
    except Exception as error:  # reported to the driver, which prints it
        report.put(("error", wid, repr(error)))


async def _idle_client(wid: int, urls: list[str], control, report) -> None:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    sockets: list[Any] = []
    failures: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    closed_by_server: Counter[str] = Counter()
    alive_ms: list[float] = []
    pending: dict[tuple[int, str], float] = {}

    async def reader(index: int, ws: Any) -> None:
        try:
            async for text in ws:
                if text.startswith('{"ack"'):
                    frame = json.loads(text)
                    started = pending.pop((index, str(frame["ack"])), None)
                    if started is not None:
                        alive_ms.append((time.monotonic() - started) * 1000)
                    frames["ack"] += 1
                else:
                    try:
                        frames[json.loads(text).get("ev", "?")] += 1
                    except ValueError:
                        frames["?"] += 1
        except websockets.ConnectionClosed:
            pass
        if not stopping:
            closed_by_server[str(ws.close_code)] += 1

    async def connect(url: str) -> None:
        async with gate:
            try:
                ws = await websockets.connect(
                    url, max_size=None, ping_interval=None, open_timeout=120, compression=None
                )
            except Exception as error:
                failures[type(error).__name__ + ": " + str(error)[:80]] += 1
                return
            sockets.append(ws)
            readers.append(asyncio.create_task(reader(len(sockets) - 1, ws)))

    stopping = False
    readers: list[asyncio.Task] = []
    loop = asyncio.get_running_loop()
    connecting = asyncio.gather(*(connect(url) for url in urls))
    # The driver may halt the ramp (its time is up): the sockets open so far stay open.
    halt = loop.run_in_executor(None, control.get)
    while not connecting.done():
        report.put(("progress", wid, len(sockets), sum(failures.values())))
        await asyncio.wait([connecting, halt], timeout=1, return_when=asyncio.FIRST_COMPLETED)
        if halt.done():
            connecting.cancel()
            break
    await asyncio.gather(connecting, return_exceptions=True)
    report.put(("connected", wid, len(sockets), dict(failures)))
    alive_tasks: list[asyncio.Task] = []

    async def heartbeat(index: int, ws: Any, period: float) -> None:
        await asyncio.sleep(random.uniform(0, period))
        n = 0
        while True:
            n += 1
            request_id = f"a{n}"
            pending[(index, request_id)] = time.monotonic()
            try:
                await ws.send(json.dumps({"id": request_id, "ev": "alive", "data": {}}))
            except websockets.ConnectionClosed:
                return
            await asyncio.sleep(period)

    reading = halt
    while True:
        command = await reading
        if command[0] != "stop":
            reading = loop.run_in_executor(None, control.get)
        if command[0] == "halt":
            continue
        if command[0] == "alive":
            period = command[1]
            alive_tasks = [
                asyncio.create_task(heartbeat(i, ws, period)) for i, ws in enumerate(sockets)
            ]
            report.put(("ok", wid))
        elif command[0] == "quiet":
            for task in alive_tasks:
                task.cancel()
            # The heartbeats sent just before the window closed are answered and timed too.
            settle = time.monotonic() + 5
            while pending and time.monotonic() < settle:
                await asyncio.sleep(0.05)
            report.put(("ok", wid))
        elif command[0] == "stats":
            report.put(
                (
                    "stats",
                    wid,
                    {
                        "open": sum(1 for ws in sockets if ws.close_code is None),
                        "frames": dict(frames),
                        "closed_by_server": dict(closed_by_server),
                        "alive_ms": alive_ms[:],
                    },
                )
            )
            frames.clear()
            alive_ms.clear()
        elif command[0] == "stop":
            stopping = True
            for task in alive_tasks:
                task.cancel()
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
            report.put(("stopped", wid))
            return


def prepare_users(count: int) -> list[str]:
    users = ensure_users([f"bench{i:05d}" for i in range(count)])
    return tokens_for(users)


def run_idle(
    *,
    server_kind: str,
    count: int,
    workers: int,
    idle_seconds: float | None,
    alive_period: float,
    ramp_timeout: float,
    progress,
) -> dict[str, Any]:
    # The server's own keepalive: a WebSocket ping per socket every this many seconds (daphne's
    # default is 20). The quiet window is one round of them unless given.
    ping_interval = float(PING_INTERVAL_SECONDS if server_kind == "uvicorn" else 20)
    if idle_seconds is None:
        idle_seconds = max(20.0, ping_interval)
    fd_limit = raise_fd_limit()
    started = time.monotonic()
    tokens = prepare_users(count + 1)
    progress(f"{count + 1} users and tokens ready in {time.monotonic() - started:.1f} s")
    server = Server(server_kind)
    pid = server.proc.pid
    ctx = multiprocessing.get_context("spawn")
    procs = []
    controls = []
    report = ctx.Queue()
    try:
        # One socket first: the per-process hub and first-request imports are not per socket.
        asyncio.run(_warm(server.ws + tokens[0]))
        time.sleep(1)
        rss_before = rss_kb(pid)
        fds_before = open_fds(pid)
        urls = [server.ws + t for t in tokens[1:]]
        chunks = [urls[i::workers] for i in range(workers)]
        for wid, chunk in enumerate(chunks):
            control = ctx.Queue()
            proc = ctx.Process(
                target=idle_client_process, args=(wid, chunk, control, report), daemon=True
            )
            proc.start()
            procs.append(proc)
            controls.append(control)
        ramp_start = time.monotonic()
        cpu_ramp_start = cpu_seconds(pid)
        counts = dict.fromkeys(range(workers), 0)
        failed = dict.fromkeys(range(workers), 0)
        failures: Counter[str] = Counter()
        done = set()
        halted = False
        tick = Ticker(progress)
        deadline = ramp_start + ramp_timeout
        while len(done) < workers:
            if time.monotonic() > deadline and not halted:
                progress(f"ramp time ({ramp_timeout:.0f} s) is up: measuring what is open")
                halted = True
                for control in controls:
                    control.put(("halt",))
            dead = [p.exitcode for p in procs if not p.is_alive()]
            if dead and report.empty():
                raise RuntimeError(f"a client process exited ({dead}) during the ramp")
            try:
                msg = report.get(timeout=1)
            except queue.Empty:
                msg = None
            if msg is not None:
                if msg[0] == "error":
                    raise RuntimeError(f"client process {msg[1]} failed: {msg[2]}")
                if msg[0] == "progress":
                    counts[msg[1]], failed[msg[1]] = msg[2], msg[3]
                elif msg[0] == "connected":
                    counts[msg[1]] = msg[2]
                    failures.update(msg[3])
                    failed[msg[1]] = sum(msg[3].values())
                    done.add(msg[1])
            elapsed = time.monotonic() - ramp_start
            tick(
                f"ramp: {sum(counts.values())}/{count} open, {sum(failed.values())} failed, "
                f"{elapsed:.0f} s, server RSS {rss_kb(pid) / 1024:.0f} MB, fds {open_fds(pid)}"
            )
        ramp_seconds = time.monotonic() - ramp_start
        ramp_cpu = cpu_seconds(pid) - cpu_ramp_start
        connected = sum(counts.values())
        progress(
            f"ramp done: {connected} open, {sum(failed.values())} failed in {ramp_seconds:.1f} s"
        )
        time.sleep(3)  # let the last connects' work settle

        def collect(command: tuple) -> list[Any]:
            for control in controls:
                control.put(command)
            answers = []
            while len(answers) < workers:
                msg = report.get(timeout=60)
                if msg[0] == "error":
                    raise RuntimeError(f"client process {msg[1]} failed: {msg[2]}")
                answers.append(msg)
            return answers

        collect(("stats",))  # drop the frames of the ramp (presence pushes)
        rss_connected = rss_kb(pid)
        fds_connected = open_fds(pid)
        progress(f"quiet window: {idle_seconds:.0f} s with no client traffic")
        quiet = _window(pid, idle_seconds, progress)
        quiet_stats = collect(("stats",))
        progress(f"heartbeat window: every socket sends `alive` every {alive_period:.0f} s")
        collect(("alive", alive_period))
        beat = _window(pid, max(idle_seconds, alive_period), progress)
        collect(("quiet",))
        beat_stats = collect(("stats",))
        rss_end = rss_kb(pid)

        def merge(stats: list[Any]) -> dict[str, Any]:
            frames: Counter[str] = Counter()
            closed: Counter[str] = Counter()
            alive: list[float] = []
            still_open = 0
            for _kind, _wid, part in stats:
                frames.update(part["frames"])
                closed.update(part["closed_by_server"])
                alive.extend(part["alive_ms"])
                still_open += part["open"]
            return {
                "frames": dict(frames),
                "closed": dict(closed),
                "alive_ms": alive,
                "open": still_open,
            }

        quiet_m, beat_m = merge(quiet_stats), merge(beat_stats)
        collect(("stop",))
        per_socket = (rss_connected - rss_before) / connected if connected else float("nan")
        return {
            "server": server_kind,
            "requested": count,
            "ramp_halted": halted,
            "connected": connected,
            "failed": sum(failed.values()),
            "failures": dict(failures.most_common(5)),
            "ramp_seconds": ramp_seconds,
            "connects_per_s": connected / ramp_seconds if ramp_seconds else float("nan"),
            "ramp_cpu_ms_per_connect": ramp_cpu * 1000 / connected if connected else float("nan"),
            "server_rss_before_kb": rss_before,
            "server_rss_connected_kb": rss_connected,
            "server_rss_end_kb": rss_end,
            "rss_kb_per_socket": per_socket,
            "server_fds_before": fds_before,
            "server_fds_connected": fds_connected,
            "fd_limit": fd_limit,
            "idle_seconds": quiet["seconds"],
            "idle_cpu_percent": quiet["cpu_percent"],
            "idle_frames": quiet_m["frames"],
            "still_open_after_quiet": quiet_m["open"],
            "alive_period_s": alive_period,
            "alive_seconds": beat["seconds"],
            "alive_cpu_percent": beat["cpu_percent"],
            "alive_acks": len(beat_m["alive_ms"]),
            "alive_ms_p50": percentile(beat_m["alive_ms"], 50),
            "alive_ms_p99": percentile(beat_m["alive_ms"], 99),
            "alive_ms_mean": mean(beat_m["alive_ms"]),
            "still_open_after_alive": beat_m["open"],
            "closed_by_server": beat_m["closed"] or quiet_m["closed"],
            "server_ping_interval_s": ping_interval,
        }
    finally:
        for control in controls:
            control.put(("stop",))
        for proc in procs:
            proc.join(15)
            if proc.is_alive():
                proc.terminate()
        server.stop()


async def _warm(url: str) -> None:
    async with websockets.connect(url, ping_interval=None, compression=None) as ws:
        await ws.send(json.dumps({"id": 1, "ev": "alive", "data": {}}))
        while True:
            if (await ws.recv()).startswith('{"ack"'):
                break


def _window(pid: int, seconds: float, progress) -> dict[str, float]:
    """CPU % of the process over `seconds` of wall time (100 % = one core)."""
    start, cpu_start = time.monotonic(), cpu_seconds(pid)
    tick = Ticker(progress, every=5)
    while time.monotonic() - start < seconds:
        time.sleep(0.5)
        elapsed = time.monotonic() - start
        tick(
            f"  {elapsed:.0f}/{seconds:.0f} s, CPU {100 * (cpu_seconds(pid) - cpu_start) / elapsed:.1f} %"
        )
    elapsed = time.monotonic() - start
    return {"seconds": elapsed, "cpu_percent": 100 * (cpu_seconds(pid) - cpu_start) / elapsed}
