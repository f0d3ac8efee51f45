"""The per-process fan-out hub: one Redis subscription per server process and a local map
from user to live sockets, each frame encoded once however many receive it.

Publishers (services after commit, Celery tasks, the gateway) send one envelope per push:
a JSON header line naming the receiving users (or a control: replace, close) followed by the
frame text. With Redis configured the envelope is PUBLISHed on `<prefix>:fanout` and every
server process delivers it to its own sockets; without Redis (the embedded default) the hubs
of this process are called directly. Each process turns the frame into a `Push` once, whose
text and WebSocket frame bytes all its receiving sockets share. Pushes are at-most-once;
clients recover by seq.

Measured against channels-redis group sends in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import weakref
from collections.abc import Iterable
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012


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
    def wire(self) -> bytes:
        if self._wire is None:
            from websockets.frames import Frame, Opcode

            # Server-to-client frames are not masked: the same bytes go to every socket.
            self._wire = Frame(Opcode.TEXT, self.data).serialize(mask=False)
        return self._wire


class Connection(Protocol):
    """What the hub needs of a live socket (the gateway consumer implements it)."""

    user_pk: int
    kind: str
    conn_id: str

    def deliver(self, push: Push) -> None: ...

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


def publish(data: bytes) -> None:
    """Send an envelope to every hub: over Redis when configured, else to this process's."""
    if settings.REDIS_URL:
        _redis_sync().publish(_channel(), data)
        return
    for hub in list(_hubs.values()):
        hub.loop.call_soon_threadsafe(hub.dispatch, data)


async def apublish(data: bytes) -> None:
    """The same as `publish`, from the event loop without blocking it."""
    if settings.REDIS_URL:
        hub = await Hub.running()
        await hub.redis.publish(_channel(), data)
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
        self._started = asyncio.Event()
        self._listener: asyncio.Task | None = None

    @classmethod
    async def running(cls) -> Hub:
        """The hub of the running loop, subscribed and ready before it is returned."""
        loop = asyncio.get_running_loop()
        hub = _hubs.get(loop)
        if hub is None:
            hub = _hubs[loop] = cls(loop)
            if settings.REDIS_URL:
                hub._listener = loop.create_task(hub._listen())
            else:
                hub._started.set()
        await hub._started.wait()
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
        head, _sep, body = data.partition(b"\n")
        try:
            header = json.loads(head)
        except ValueError:
            logger.error("fan-out envelope without a JSON header dropped")
            return
        users: Iterable[int] = header.get("u", ())
        op = header.get("c")
        if op is None:
            push = Push(body)
            local = self.local
            for user_pk in users:
                conns = local.get(user_pk)
                if conns:
                    # A copy: a socket that falls behind unregisters itself in deliver().
                    for conn in tuple(conns):
                        conn.deliver(push)
            return
        for user_pk in users:
            for conn in tuple(self.local.get(user_pk, ())):
                conn.control(op, header)

    async def _listen(self) -> None:
        """Subscribe and dispatch; after losing Redis, close local sockets so that their
        clients reconnect and catch up by seq instead of silently missing pushes."""
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
        self.redis = aioredis.Redis(connection_pool=pool)
        backoff = 0.5
        first = True
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(_channel())
                # Wait for the confirmation: pushes published after this are ours.
                await pubsub.get_message(timeout=5)
                if not first:
                    logger.warning("fan-out subscription restored; closing local sockets")
                    for conns in list(self.local.values()):
                        for conn in tuple(conns):
                            conn.control("close", {"code": CLOSE_SERVICE_RESTART})
                first = False
                self._started.set()
                backoff = 0.5
                while True:
                    message = await pubsub.get_message(timeout=15)
                    if message is None:
                        await pubsub.ping()
                    elif message.get("type") == "message":
                        self.dispatch(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("fan-out subscription lost; retrying in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # the connection is already gone; nothing left to free
                    logger.debug("pubsub close failed", exc_info=True)
