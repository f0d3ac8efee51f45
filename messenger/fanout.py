"""The per-process fan-out hub: one Redis subscription per server process and a local map
from user to live sockets, each frame encoded once however many receive it.

Publishers (services after commit, Celery tasks, the gateway) send one envelope per push:
a JSON header line naming the receiving users (or a control: replace, close) followed by the
frame text. With Redis configured the envelope is PUBLISHed on `<prefix>:fanout` and every
server process delivers it to its own sockets; without Redis (the embedded default) the hubs
of this process are called directly. Each process turns the frame into a `Push` once, whose
text and WebSocket frame bytes all its receiving sockets share. Pushes are at-most-once;
clients recover by seq.

While Redis is down, publishing fails open (messenger.outage: logged, the push is lost) and
sockets still connect; once the hub's subscription is back it closes its sockets (1012), so
their clients reconnect and catch up by seq what they missed.

Measured against channels-redis group sends in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from django.conf import settings

from messenger.errors import is_redis_outage
from messenger.outage import fail_open, redis_down

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012
PUSH_LOST = "pushes are lost until it is back (clients catch up by seq after the 1012 close)"
# Envelopes already received that one dispatch takes together, at most.
DRAIN_MAX = 100


class Push:
    """One push frame as every receiving socket gets it, each form made once and shared:
    `text` for an ASGI send, `wire` the complete WebSocket frame for a prepared-frame write
    (messenger.gateway.uvicorn_protocol)."""

    __slots__ = ("_text", "_wire", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._text: str | None = None
        self._wire: bytes | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.data.decode()
        return self._text

    @property
    def texts(self) -> tuple[str, ...]:
        return (self.text,)

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            from websockets.frames import Frame, Opcode

            # Server-to-client frames are not masked: the same bytes go to every socket.
            self._wire = Frame(Opcode.TEXT, self.data).serialize(mask=False)
        return self._wire


class Pushes:
    """Several pushes in order for the same sockets (a burst in one room reaches every member
    the same): `wire` is their frames joined, made once and written with one write, `texts`
    each frame's text for the ASGI path."""

    __slots__ = ("_wire", "parts")

    def __init__(self, parts: tuple[Push, ...]) -> None:
        self.parts = parts
        self._wire: bytes | None = None

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(part.text for part in self.parts)

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = b"".join(part.wire for part in self.parts)
        return self._wire


class Connection(Protocol):
    """What the hub needs of a live socket (the gateway consumer implements it)."""

    user_pk: int
    kind: str
    conn_id: str

    def deliver(self, push: Push | Pushes) -> None: ...

    def control(self, op: str, header: dict[str, Any]) -> None: ...


def _channel() -> str:
    return f"{settings.REDIS_PREFIX}:fanout"


def envelope(header: dict[str, Any], text: str = "") -> bytes:
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + text.encode()


# --- publishing (any thread, any process) --------------------------------------------------

_sync_redis: Any = None
_sync_redis_pid: int | None = None
_sync_lock = threading.Lock()


def _redis_sync() -> Any:
    """A process-wide sync Redis client (re-made after fork, e.g. in Celery workers)."""
    global _sync_redis, _sync_redis_pid
    if _sync_redis is None or _sync_redis_pid != os.getpid():
        with _sync_lock:
            if _sync_redis is None or _sync_redis_pid != os.getpid():
                import redis

                _sync_redis = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=10, socket_connect_timeout=5
                )
                _sync_redis_pid = os.getpid()
    return _sync_redis


_held = threading.local()


@contextmanager
def published_together() -> Iterator[None]:
    """Hold what this thread publishes inside the block and send it at the block's end, in
    order and in one round trip to Redis, so that every hub receives it together and gives
    each socket one write for all (Hub.dispatch_many). For the pushes of one commit that
    carries several messages (messages.services.message_send_many): published one by one,
    the hub took them one at a time, interleaved with the publishing thread. A failure to
    publish is logged: pushes are at-most-once and clients catch up by seq."""
    if getattr(_held, "envelopes", None) is not None:
        yield
        return
    _held.envelopes = []
    try:
        yield
    finally:
        envelopes, _held.envelopes = _held.envelopes, None
        if envelopes:
            try:
                fail_open("fan-out publish", PUSH_LOST, lambda: _publish_now(envelopes), None)
            except Exception:
                logger.exception("fan-out publish of %d envelopes failed", len(envelopes))


def publish(data: bytes) -> None:
    """Send an envelope to every hub: over Redis when configured, else to this process's."""
    held = getattr(_held, "envelopes", None)
    if held is not None:
        held.append(data)
        return
    fail_open("fan-out publish", PUSH_LOST, lambda: _publish_now([data]), None)


def _publish_now(envelopes: list[bytes]) -> None:
    if settings.REDIS_URL:
        if len(envelopes) == 1:
            _redis_sync().publish(_channel(), envelopes[0])
            return
        pipe = _redis_sync().pipeline(transaction=False)
        for data in envelopes:
            pipe.publish(_channel(), data)
        pipe.execute()
        return
    for hub in list(_hubs.values()):
        hub.loop.call_soon_threadsafe(hub.dispatch_many, envelopes)


async def apublish(data: bytes) -> None:
    """The same as `publish`, from the event loop without blocking it."""
    if settings.REDIS_URL:
        hub = await Hub.running()
        try:
            await hub.redis.publish(_channel(), data)
        except Exception as exc:
            if not is_redis_outage(exc):
                raise
            redis_down("fan-out publish", PUSH_LOST, exc)
        return
    for hub in list(_hubs.values()):
        if hub.loop is asyncio.get_running_loop():
            hub.dispatch(data)
        else:
            hub.loop.call_soon_threadsafe(hub.dispatch, data)


# --- receiving (one hub per event loop, in the server process) -----------------------------

_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


class Hub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.local: dict[int, set[Connection]] = {}
        self.redis: Any = None
        # Set once the first subscription has been tried, whether it worked or not: sockets
        # wait for it, so that a socket opened with Redis up misses no push, and one opened
        # with Redis down is accepted (and closed with 1012 once the subscription is back).
        self._tried = asyncio.Event()
        self._listener: asyncio.Task | None = None

    @classmethod
    async def running(cls) -> Hub:
        """The hub of the running loop, returned once its first subscription has been tried
        (subscribed, unless Redis is down)."""
        loop = asyncio.get_running_loop()
        hub = _hubs.get(loop)
        if hub is None:
            hub = _hubs[loop] = cls(loop)
            if settings.REDIS_URL:
                hub.redis = hub._client()
                hub._listener = loop.create_task(hub._listen())
            else:
                hub._tried.set()
        await hub._tried.wait()
        return hub

    def register(self, conn: Connection) -> None:
        self.local.setdefault(conn.user_pk, set()).add(conn)

    def unregister(self, conn: Connection) -> None:
        conns = self.local.get(conn.user_pk)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.local[conn.user_pk]

    def connections(self) -> int:
        return sum(len(c) for c in self.local.values())

    def dispatch(self, data: bytes) -> None:
        """Hand one envelope to the local sockets it names."""
        self.dispatch_many([data])

    def dispatch_many(self, envelopes: list[bytes]) -> None:
        """Hand envelopes to the local sockets they name, in order. A socket named by several
        pushes in a row gets them together (`Pushes`: one write for all)."""
        local = self.local
        pending: dict[Connection, list[Push]] = {}
        for data in envelopes:
            head, _sep, body = data.partition(b"\n")
            try:
                header = json.loads(head)
            except ValueError:
                logger.error("fan-out envelope without a JSON header dropped")
                continue
            users: Iterable[int] = header.get("u", ())
            op = header.get("c")
            if op is None:
                push = Push(body)
                for user_pk in users:
                    for conn in local.get(user_pk, ()):
                        pending.setdefault(conn, []).append(push)
                continue
            # A control (replace, close) comes after the pushes before it.
            self._deliver(pending)
            pending = {}
            for user_pk in users:
                for conn in tuple(local.get(user_pk, ())):
                    conn.control(op, header)
        self._deliver(pending)

    @staticmethod
    def _deliver(pending: dict[Connection, list[Push]]) -> None:
        # Sockets given the same pushes share one Pushes, so its frames are joined once.
        shared: dict[tuple[int, ...], Pushes] = {}
        for conn, pushes in pending.items():
            # A copy: a socket that falls behind unregisters itself in deliver().
            if len(pushes) == 1:
                conn.deliver(pushes[0])
                continue
            key = tuple(map(id, pushes))
            group = shared.get(key)
            if group is None:
                group = shared[key] = Pushes(tuple(pushes))
            conn.deliver(group)

    @staticmethod
    def _client() -> Any:
        import redis.asyncio as aioredis

        # Reads wait at most 15 s (then a PING proves the connection alive), under the
        # socket timeout, so an idle but healthy subscription never times out.
        # A blocking pool: under a connect storm publishers wait for a connection instead of
        # failing (redis-py 8 raises "Too many connections" past a plain pool's cap).
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=64,
            timeout=10,
            socket_timeout=30,
            socket_connect_timeout=5,
        )
        return aioredis.Redis(connection_pool=pool)

    async def _listen(self) -> None:
        """Subscribe and dispatch. Each time the subscription is made, the sockets already
        here are closed (1012): they were opened or lived on while it was lost (Redis down),
        so their clients reconnect and catch up by seq instead of silently missing pushes."""
        backoff = 0.5
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(_channel())
                # Wait for the confirmation: pushes published after this are ours.
                await pubsub.get_message(timeout=5)
                if self.local:
                    logger.warning(
                        "fan-out subscription restored; closing %d local sockets",
                        self.connections(),
                    )
                    for conns in list(self.local.values()):
                        for conn in tuple(conns):
                            conn.control("close", {"code": CLOSE_SERVICE_RESTART})
                self._tried.set()
                backoff = 0.5
                while True:
                    message = await pubsub.get_message(timeout=15)
                    if message is None:
                        await pubsub.ping()
                        continue
                    # What else has already arrived goes out with it (dispatch_many).
                    envelopes = []
                    while message is not None and len(envelopes) < DRAIN_MAX:
                        if message.get("type") == "message":
                            envelopes.append(message["data"])
                        message = await pubsub.get_message(timeout=0)
                    if message is not None and message.get("type") == "message":
                        envelopes.append(message["data"])
                    self.dispatch_many(envelopes)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_redis_outage(exc):
                    logger.warning(
                        "fan-out subscription lost (%s: %s); retrying in %.1f s",
                        type(exc).__name__,
                        exc,
                        backoff,
                    )
                else:
                    logger.exception("fan-out subscription lost; retrying in %.1f s", backoff)
                # Sockets opened meanwhile are accepted; they are closed once it is back.
                self._tried.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # the connection is already gone; nothing left to free
                    logger.debug("pubsub close failed", exc_info=True)
