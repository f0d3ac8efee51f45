"""Fan-out: one room of N members, all online. A paced phase measures send->ack and delivery
latency; a burst phase measures deliveries per second. The socket.io baseline runs the same
clients against the seed's transport."""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
import uuid
from typing import Any

from bench.clients import PROTOCOLS, Sender, receiver_process
from bench.common import percentile
from bench.env import Server


def prepare_room(size: int) -> tuple[int, list[str]]:
    """Users bench0000.. and a room of exactly `size` of them; tokens, sender's first."""
    from rest_framework_simplejwt.tokens import AccessToken

    from messages import services
    from orgsync.models import User

    ids = [f"bench{i:05d}" for i in range(size)]
    existing = set(User.objects.filter(user_id__in=ids).values_list("user_id", flat=True))
    fresh = [User(user_id=u, name=f"벤치{u[5:]}", is_active=True) for u in ids if u not in existing]
    for user in fresh:
        user.set_unusable_password()
    User.objects.bulk_create(fresh, batch_size=1000)
    users = {u.user_id: u for u in User.objects.filter(user_id__in=ids)}
    owner = users[ids[0]]
    if size == 2:
        room, _ = services.room_open_direct(actor=owner, peer=users[ids[1]])
    else:
        room, _ = services.room_create(actor=owner, member_ids=ids[1:])
    return room.pk, [str(AccessToken.for_user(users[u])) for u in ids]


def run_fanout(
    *,
    protocol_name: str,
    server_kind: str,
    processes: int,
    size: int,
    paced: int,
    rate: float,
    burst: int,
    workers: int,
    timeout: float,
    progress,
) -> dict[str, Any]:
    protocol = PROTOCOLS[protocol_name]
    servers = [Server(server_kind) for _ in range(processes)]
    try:
        if protocol_name == "ours":
            room_id, tokens = prepare_room(size)
            urls = [servers[i % len(servers)].ws + t for i, t in enumerate(tokens)]
        else:
            room_id = 1
            urls = [servers[i % len(servers)].ws for i in range(size)]
        sender_url, receiver_urls = urls[0], urls[1:]
        marker = uuid.uuid4().hex[:8]
        expected = paced + burst
        deadline = time.time() + timeout
        ctx = multiprocessing.get_context("spawn")
        ready, results = ctx.Queue(), ctx.Queue()
        chunks = [receiver_urls[i::workers] for i in range(workers)]
        chunks = [c for c in chunks if c]
        procs = [
            ctx.Process(
                target=receiver_process,
                args=(protocol_name, chunk, marker, expected, deadline, ready, results),
                daemon=True,
            )
            for chunk in chunks
        ]
        for proc in procs:
            proc.start()
        connected = 0
        for _ in procs:
            got = ready.get(timeout=max(deadline - time.time(), 1))
            if got < 0:
                failure = results.get(timeout=10)
                raise RuntimeError(f"a receiver process failed to connect: {failure['error']}")
            connected += got
            progress(f"connected {connected}/{len(receiver_urls)}")
        rss_connected = sum(s.rss_kb() for s in servers)
        sender = Sender(protocol, sender_url, room_id, marker)
        asyncio.run(_drive(sender, paced, rate, burst, progress))
        received: dict[int, list[float]] = {}
        errors = []
        for _ in procs:
            part = results.get(timeout=max(deadline - time.time(), 1) + 10)
            if "error" in part:
                errors.append(part["error"])
                continue
            for index, times in part.items():
                received.setdefault(index, []).extend(times)
        for proc in procs:
            proc.join(5)
        if errors:
            raise RuntimeError("; ".join(errors))
        return _summarise(
            sender,
            received,
            size - 1,
            paced,
            burst,
            protocol_name,
            server_kind,
            processes,
            rss_connected,
        )
    finally:
        for server in servers:
            server.stop()


async def _drive(sender: Sender, paced: int, rate: float, burst: int, progress) -> None:
    async with sender:
        interval = 1 / rate if rate > 0 else 0
        start = time.monotonic()
        for index in range(paced):
            await asyncio.wait_for(await sender.send(index), 30)
            wait = start + (index + 1) * interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        progress(f"paced {paced} sent")
        futures = [await sender.send(paced + i) for i in range(burst)]
        _done, pending = await asyncio.wait(futures, timeout=90)
        sender.unacked = len(pending)
        progress(f"burst {burst} sent, {len(pending)} not acked within 90 s")


def _summarise(
    sender: Sender,
    received: dict[int, list[float]],
    receivers: int,
    paced: int,
    burst: int,
    protocol_name: str,
    server_kind: str,
    processes: int,
    rss_kb: int,
) -> dict[str, Any]:
    def latencies(indexes: range) -> tuple[list[float], list[float]]:
        every, last = [], []
        for index in indexes:
            times = received.get(index, [])
            sent = sender.sent_at.get(index)
            if not times or sent is None:
                continue
            every.extend((t - sent) * 1000 for t in times)
            last.append((max(times) - sent) * 1000)
        return every, last

    paced_every, paced_last = latencies(range(paced))
    burst_indexes = range(paced, paced + burst)
    burst_deliveries = sum(len(received.get(i, [])) for i in burst_indexes)
    burst_times = [t for i in burst_indexes for t in received.get(i, [])]
    burst_start = min((sender.sent_at[i] for i in burst_indexes if i in sender.sent_at), default=0)
    span = (max(burst_times) - burst_start) if burst_times else float("nan")
    delivered = sum(len(v) for v in received.values())
    acks = [sender.ack_ms[i] for i in range(paced) if i in sender.ack_ms]
    return {
        "protocol": protocol_name,
        "server": server_kind,
        "processes": processes,
        "members": receivers + 1,
        "messages": paced + burst,
        "expected_deliveries": (paced + burst) * receivers,
        "delivered": delivered,
        "lost": (paced + burst) * receivers - delivered,
        "send_failures": sender.failed,
        "unacked": sender.unacked,
        "ack_ms_p50": percentile(acks, 50),
        "ack_ms_p99": percentile(acks, 99),
        "delivery_ms_p50": percentile(paced_every, 50),
        "delivery_ms_p99": percentile(paced_every, 99),
        "last_delivery_ms_p50": percentile(paced_last, 50),
        "last_delivery_ms_p99": percentile(paced_last, 99),
        "burst_deliveries_per_s": burst_deliveries / span if span and span > 0 else float("nan"),
        "burst_seconds": span,
        "server_rss_kb": rss_kb,
        "mean_ack_ms": statistics.fmean(acks) if acks else float("nan"),
    }
