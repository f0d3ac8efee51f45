"""Every message exactly once, in seq order, for every client, through faults: a server process
killed, Redis restarted, a connection cut mid-send, the database down for a few seconds.

Clients send numbered messages (each with its own msg_id) to one room over two server
processes; what is not acked is sent again with the same msg_id; after a reconnect a client
catches up by seq. The figures are printed (run with -s) and kept in the report file.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.faults.clients import Client
from tests.faults.procs import FULL, AppServer, Stack

pytestmark = pytest.mark.faults

CLIENTS = 6 if FULL else 4
MESSAGES = 300 if FULL else 30  # per client
PACE = 0.02 if FULL else 0.05  # seconds between one client's messages
OUTAGE = 10.0 if FULL else 3.0  # seconds a killed service stays down
DEADLINE = 600 if FULL else 150  # seconds a scenario may take


async def stored_messages(server: AppServer, token: str, room_id: int) -> list[dict[str, Any]]:
    """The room's talk messages as the database has them, in seq order."""
    found: list[dict[str, Any]] = []
    after = 0
    async with httpx.AsyncClient(base_url=server.http, timeout=30) as http:
        while True:
            page = (
                await http.get(
                    f"/api/rooms/{room_id}/messages",
                    params={"after_seq": after, "limit": 200},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()
            found += [m for m in page["messages"] if m["type"] == "talk"]
            if page["messages"]:
                after = page["messages"][-1]["seq"]
            if not page["has_more"]:
                return found


async def _until_acked(clients: list[Client], share: float) -> None:
    total = sum(len(c.todo) + len(c.acked) for c in clients)
    while sum(len(c.acked) for c in clients) < total * share:
        await asyncio.sleep(0.05)


async def run_scenario(
    *,
    name: str,
    stack: Stack,
    servers: list[AppServer],
    room: dict[str, Any],
    fault: Callable[[list[Client]], Awaitable[None]],
    report: Callable[[str], None],
) -> dict[str, Any]:
    clients = [
        # Half the clients start on each server; on a failure they try the next one.
        Client(
            name=f"{room['users'][i]['user_id']}",
            token=room["users"][i]["token"],
            room_id=room["room_id"],
            servers=servers[i % 2 :] + servers[: i % 2],
        )
        for i in range(CLIENTS)
    ]
    for client in clients:
        client.queue(MESSAGES)
        await client.connect()
    started = time.monotonic()
    sending = [asyncio.create_task(c.send_all(pace=PACE)) for c in clients]
    await _until_acked(clients, 1 / 3)
    fault_started = time.monotonic()
    await fault(clients)
    fault_seconds = time.monotonic() - fault_started
    async with asyncio.timeout(DEADLINE):
        await asyncio.gather(*sending)
    send_seconds = time.monotonic() - started
    # A client whose socket the server closed reconnects (and catches up) even with nothing
    # left to send, as the browser client does.
    for client in clients:
        if client.reader is None or client.reader.done():
            await client.drop()
            await client.connect()
    # Pushes still on their way arrive; then each client checks once more, by seq, what it
    # has against the server (a client that never reconnected relies on pushes alone).
    await asyncio.sleep(1.0)
    for client in clients:
        client.server = servers[1]
        await client.catch_up("final check")
    stored = await stored_messages(servers[1], room["users"][0]["token"], room["room_id"])
    for client in clients:
        await client.close()

    by_body = Counter(m["body"] for m in stored)
    sent_bodies = {f"{c.name}-{n:05d}" for c in clients for n in range(MESSAGES)}
    doubled = sum(count - 1 for count in by_body.values() if count > 1)
    lost_in_db = len(sent_bodies - set(by_body))
    stored_seqs = [m["seq"] for m in stored]

    def holds(client: Client, message: dict[str, Any]) -> bool:
        return client.timeline.get(message["seq"], {}).get("msg_id") == message["msg_id"]

    lost_by_client = {c.name: sum(1 for m in stored if not holds(c, m)) for c in clients}
    delivered = sum(1 for c in clients for m in stored if holds(c, m))
    how: Counter[str] = Counter()
    for client in clients:
        how.update(client.received)
    figures = {
        "sent": len(sent_bodies),
        "frames": sum(c.sent for c in clients),
        "stored": len(stored),
        "delivered": delivered,
        "expected": len(stored) * len(clients),
        "lost": lost_in_db + sum(lost_by_client.values()),
        "doubled": doubled,
        "conflicts": sum(c.conflicts for c in clients),
        "retries": sum(c.retries for c in clients),
        "timeouts": sum(c.timeouts for c in clients),
        "reconnects": sum(c.connects for c in clients) - len(clients),
        "connect_failures": sum(c.connect_failures for c in clients),
        "error_acks": dict(sum((c.error_acks for c in clients), Counter())),
        "close_codes": dict(sum((c.close_codes for c in clients), Counter())),
        "out_of_order_pushes": sum(c.out_of_order for c in clients),
        "in_seq_order": stored_seqs == sorted(stored_seqs),
    }
    report(
        f"[{name}] sent {figures['sent']} (frames {figures['frames']}), stored "
        f"{figures['stored']}, delivered {delivered}/{figures['expected']} "
        f"(push {how['push']}, own ack {how['ack']}, catch-up {how['catch-up']}, final check "
        f"{how['final check']}), lost {figures['lost']}, doubled {doubled}; retries "
        f"{figures['retries']} (ack timeouts {figures['timeouts']}), reconnects "
        f"{figures['reconnects']} (failed attempts {figures['connect_failures']}), error acks "
        f"{figures['error_acks']}, closes {figures['close_codes']}; fault {fault_seconds:.1f} s, "
        f"all sent in {send_seconds:.1f} s"
    )
    assert figures["lost"] == 0, lost_by_client
    assert figures["doubled"] == 0
    assert figures["conflicts"] == 0
    assert figures["stored"] == figures["sent"]
    assert figures["in_seq_order"]
    # Live pushes and the catch-up after each reconnect were enough: the last check found
    # nothing new (a message stored but never pushed would leave a gap until then).
    assert how["final check"] == 0
    return figures


SCENARIOS = ["kill", "redis", "cut", "dbdown"]


@pytest.fixture(scope="module")
def two_servers(stack: Stack) -> Iterator[list[AppServer]]:
    """Two server processes for all the scenarios (one is killed and restarted in one)."""
    servers = [AppServer(stack, "a"), AppServer(stack, "b")]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def rooms(stack: Stack) -> dict[str, dict[str, Any]]:
    return stack.seed("rooms_with_members", prefixes=SCENARIOS, count=CLIENTS)


def test_delivery_server_killed_and_restarted(stack, two_servers, rooms, report):
    room = rooms["kill"]
    victim = two_servers[0]

    async def fault(clients: list[Client]) -> None:
        await asyncio.to_thread(victim.kill)
        await asyncio.sleep(OUTAGE)
        await asyncio.to_thread(victim.start)

    figures = asyncio.run(
        run_scenario(
            name="server SIGKILL + restart",
            stack=stack,
            servers=two_servers,
            room=room,
            fault=fault,
            report=report,
        )
    )
    assert figures["reconnects"] >= CLIENTS // 2


def test_delivery_redis_restarted(stack, two_servers, rooms, report):
    room = rooms["redis"]

    async def fault(clients: list[Client]) -> None:
        await asyncio.to_thread(stack.redis.kill)
        await asyncio.sleep(OUTAGE)
        await asyncio.to_thread(stack.redis.start)
        # The hubs resubscribe and close their sockets (1012) so that clients catch up: the
        # fault is over once every client has seen that close.
        async with asyncio.timeout(30):
            while sum(c.close_codes["1012"] for c in clients) < len(clients):
                await asyncio.sleep(0.05)

    figures = asyncio.run(
        run_scenario(
            name="redis SIGKILL + restart",
            stack=stack,
            servers=two_servers,
            room=room,
            fault=fault,
            report=report,
        )
    )
    assert figures["reconnects"] >= CLIENTS
    # Sends went on while Redis was down (the rate limit fails open), none waited for its ack,
    # and no socket was refused: only pushes paused.
    assert figures["error_acks"] == {}, figures["error_acks"]
    assert figures["timeouts"] == 0
    assert figures["connect_failures"] == 0


def test_delivery_connection_cut_mid_send(stack, two_servers, rooms, report):
    room = rooms["cut"]

    async def fault(clients: list[Client]) -> None:
        for _ in range(3):
            for client in clients:
                client.cut_next = True
            await asyncio.sleep(0.5)

    figures = asyncio.run(
        run_scenario(
            name="connection cut mid-send",
            stack=stack,
            servers=two_servers,
            room=room,
            fault=fault,
            report=report,
        )
    )
    assert figures["reconnects"] >= CLIENTS


def test_delivery_database_down(stack, two_servers, rooms, report):
    room = rooms["dbdown"]

    async def fault(clients: list[Client]) -> None:
        await asyncio.to_thread(stack.db.kill)
        await asyncio.sleep(OUTAGE)
        await asyncio.to_thread(stack.db.start)

    figures = asyncio.run(
        run_scenario(
            name="mariadb SIGKILL + restart",
            stack=stack,
            servers=two_servers,
            room=room,
            fault=fault,
            report=report,
        )
    )
    # Sends during the outage are answered, with a clear "try again" error, on open sockets.
    assert set(figures["error_acks"]) <= {"unavailable"}, figures["error_acks"]
    assert figures["error_acks"].get("unavailable", 0) > 0
    assert figures["timeouts"] == 0
    # No socket was closed by the server: only the clients' own closes at the end (1000).
    assert set(figures["close_codes"]) == {"1000"}, figures["close_codes"]
