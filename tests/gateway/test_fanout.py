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
        self.deliveries: list[fanout.Push | fanout.Pushes] = []
        self.controls: list[tuple[str, dict[str, Any]]] = []

    def deliver(self, push: fanout.Push | fanout.Pushes) -> None:
        self.deliveries.append(push)
        self.frames.extend(push.texts)

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


async def test_hub_gives_a_socket_the_pushes_received_together_in_one_delivery():
    hub = fanout.Hub(asyncio.get_running_loop())
    alice, bob, carol = FakeConnection(1), FakeConnection(2), FakeConnection(3)
    for conn in (alice, bob, carol):
        hub.register(conn)
    hub.dispatch_many(
        [
            fanout.envelope({"u": [1, 2]}, "m1"),
            fanout.envelope({"u": [1, 2, 3]}, "m2"),
            b"not json\n{}",
            fanout.envelope({"u": [1, 2]}, "m3"),
            fanout.envelope({"u": [2], "c": "close", "code": 4003}),
            fanout.envelope({"u": [1, 2]}, "m4"),
        ]
    )
    assert alice.frames == bob.frames == ["m1", "m2", "m3", "m4"]
    assert carol.frames == ["m2"]
    # Before the control: one delivery of three pushes, the same object for both (its frames
    # are joined once); the push after the control comes after it.
    assert [type(d).__name__ for d in alice.deliveries] == ["Pushes", "Push"]
    assert alice.deliveries[0] is bob.deliveries[0]
    assert alice.deliveries[0].wire == b"".join(fanout.Push(m).wire for m in (b"m1", b"m2", b"m3"))
    assert bob.controls == [("close", {"u": [2], "c": "close", "code": 4003})]
    assert alice.controls == []


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


async def test_envelopes_published_together_reach_a_socket_in_order_in_few_deliveries():
    """Over Redis: what has arrived by the time the hub reads is dispatched together, at most
    DRAIN_MAX at once, nothing dropped or reordered at the boundary."""
    hub = await fanout.Hub.running()
    try:
        conn = FakeConnection(900_001)
        hub.register(conn)
        count = 2 * fanout.DRAIN_MAX + 50
        pipe = fanout._redis_sync().pipeline(transaction=False)
        for i in range(count):
            pipe.publish(fanout._channel(), fanout.envelope({"u": [900_001]}, f"p{i}"))
        await asyncio.to_thread(pipe.execute)
        for _ in range(200):
            if len(conn.frames) == count:
                break
            await asyncio.sleep(0.02)
        assert conn.frames == [f"p{i}" for i in range(count)]
        sizes = [len(d.texts) for d in conn.deliveries]
        assert max(sizes) <= fanout.DRAIN_MAX + 1
        assert len(sizes) < count / 2
    finally:
        hub._listener.cancel()


async def test_envelopes_published_together_leave_at_the_end_of_the_block_in_one_dispatch():
    hub = await fanout.Hub.running()
    try:
        conn = FakeConnection(900_002)
        hub.register(conn)

        def publish_three() -> int:
            with fanout.published_together():
                for i in range(3):
                    fanout.publish(fanout.envelope({"u": [900_002]}, f"t{i}"))
                with fanout.published_together():  # nested: still held by the outer block
                    fanout.publish(fanout.envelope({"u": [900_002]}, "t3"))
                held = len(fanout._held.envelopes)
            return held

        assert await asyncio.to_thread(publish_three) == 4
        for _ in range(200):
            if len(conn.frames) == 4:
                break
            await asyncio.sleep(0.02)
        assert conn.frames == ["t0", "t1", "t2", "t3"]
        assert len(conn.deliveries) == 1
    finally:
        hub._listener.cancel()


def test_published_together_logs_a_failed_publish_instead_of_raising(monkeypatch, caplog):
    def down(envelopes):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(fanout, "_publish_now", down)
    with fanout.published_together():
        fanout.publish(fanout.envelope({"u": [1]}, "lost"))
    assert "fan-out publish of 1 envelopes failed" in caplog.text
    assert fanout._held.envelopes is None


async def test_replacing_or_closing_a_socket_whose_client_is_gone_logs_no_error(caplog):
    """uvicorn raises ClientDisconnected (an OSError) for a send or close on a socket whose
    client has gone; in a reconnect storm every reconnect replaces such a socket."""
    from uvicorn.protocols.utils import ClientDisconnected

    hub = fanout.Hub(asyncio.get_running_loop())
    consumer = GatewayConsumer()
    consumer.user_pk, consumer.kind, consumer.conn_id = 8, "web", "old"
    consumer.tasks = set()
    consumer.hub = hub

    async def gone(*args: Any, **kwargs: Any) -> None:
        raise ClientDisconnected()

    consumer.send = gone
    consumer.close = gone
    consumer.outbox = asyncio.Queue(3)
    consumer.outbox.put_nowait("queued")
    consumer.unsent = 1
    hub.register(consumer)
    consumer.control("replace", {"k": "web", "keep": "new"})
    consumer.control("close", {"code": 4003})
    tasks = list(consumer.tasks)
    assert len(tasks) == 2
    await asyncio.gather(*tasks)
    assert all(task.exception() is None for task in tasks)
    writer = asyncio.create_task(consumer._write_outbox())
    await asyncio.wait_for(writer, 1)
    assert writer.exception() is None
    assert "ERROR" not in caplog.text
