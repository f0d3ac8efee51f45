"""The per-process fan-out hub: routing envelopes to local sockets, controls, slow sockets."""

from __future__ import annotations

import asyncio
from typing import Any

from messenger import fanout
from messenger.gateway.auth import CLOSE_TOO_SLOW
from messenger.gateway.consumer import GatewayConsumer


class FakeConnection:
    def __init__(self, user_pk: int, kind: str = "web", conn_id: str = "c") -> None:
        self.user_pk, self.kind, self.conn_id = user_pk, kind, conn_id
        self.frames: list[str] = []
        self.controls: list[tuple[str, dict[str, Any]]] = []

    def deliver(self, push: fanout.Push) -> None:
        self.frames.append(push.text)

    def control(self, op: str, header: dict[str, Any]) -> None:
        self.controls.append((op, header))


async def test_hub_delivers_one_envelope_to_the_named_users_only():
    hub = fanout.Hub(asyncio.get_running_loop())
    alice, alice_mobile, bob, carol = (
        FakeConnection(1, "web", "a1"),
        FakeConnection(1, "mobile", "a2"),
        FakeConnection(2),
        FakeConnection(3),
    )
    for conn in (alice, alice_mobile, bob, carol):
        hub.register(conn)
    hub.dispatch(fanout.envelope({"u": [1, 2, 99]}, '{"ev": "message", "data": {"x": "가"}}'))
    assert (
        alice.frames
        == alice_mobile.frames
        == bob.frames
        == ['{"ev": "message", "data": {"x": "가"}}']
    )
    # One decoded string shared by every receiver: encoded once, whatever the audience.
    assert alice.frames[0] is bob.frames[0]
    assert carol.frames == []
    hub.unregister(bob)
    hub.dispatch(fanout.envelope({"u": [2]}, "later"))
    assert bob.frames == ['{"ev": "message", "data": {"x": "가"}}']
    assert hub.connections() == 3


async def test_hub_passes_controls_and_drops_a_malformed_envelope():
    hub = fanout.Hub(asyncio.get_running_loop())
    conn = FakeConnection(7)
    hub.register(conn)
    hub.dispatch(fanout.envelope({"u": [7], "c": "close", "code": 4003}))
    assert conn.controls == [("close", {"u": [7], "c": "close", "code": 4003})]
    hub.dispatch(b"not json\n{}")
    assert conn.frames == []


async def test_a_socket_that_stops_reading_is_closed_with_4008_not_buffered_for_ever():
    hub = fanout.Hub(asyncio.get_running_loop())
    consumer = GatewayConsumer()
    consumer.user_pk, consumer.kind, consumer.conn_id = 5, "web", "slow"
    consumer.outbox = asyncio.Queue(3)
    consumer.unsent = 0
    consumer.write_prepared = None  # a server without prepared frames: every push queues
    consumer.tasks = set()
    consumer.hub = hub
    closed: list[int] = []

    async def close(code: int | None = None, reason: str | None = None) -> None:
        closed.append(code)

    consumer.close = close  # the socket itself is not under test here
    hub.register(consumer)
    for i in range(5):
        hub.dispatch(fanout.envelope({"u": [5]}, f"frame {i}"))
    await asyncio.sleep(0)
    # What it had not taken is dropped at once: it catches up by seq when it reconnects.
    assert consumer.outbox.qsize() == 0
    assert closed == [CLOSE_TOO_SLOW]
    assert hub.connections() == 0
