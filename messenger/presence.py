"""Who is online, per client kind, in the shared cache (Redis in production), so every server
process sees the same answer. Entries expire unless the connection refreshes them (each
`alive` heartbeat does), so a crashed process cannot leave people online for ever.

While Redis is down presence fails open (messenger.outage): nothing is recorded, everyone
reads as offline and no room as looked at (so notifications are sent), and connecting,
sending and reading go on. Once Redis is back the fan-out hub closes the sockets (1012), and
their reconnects record them again."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver

from messenger.outage import fail_open

KINDS = ("web", "mobile")
TTL_SECONDS = 90
PART = "presence"
NOT_RECORDED = "presence is not recorded and everyone reads as offline"


_shared: Any = None


def _cache() -> Any:
    """One cache client per process, shared by every connection.

    Django's `cache` proxy keeps one backend object per async context, and each WebSocket
    connection runs in its own context: through the proxy every socket held its own Redis
    connection pool and connection for its whole life (one Redis client per socket: about
    10 KB and a file descriptor each in the server, and Redis's `maxclients` reached near
    10,000 sockets; measured by `python -m bench idle`). The backend's Redis client is
    thread-safe, so one object serves the process."""
    global _shared
    if _shared is None:
        _shared = caches.create_connection("default")
    return _shared


@receiver(setting_changed)
def _forget_cache(*, setting: str, **kwargs: Any) -> None:
    global _shared
    if setting == "CACHES":
        _shared = None


def _key(user_pk: int, kind: str) -> str:
    return f"presence:{user_pk}:{kind}"


def presence_mark(*, user_pk: int, kind: str, conn_id: str) -> None:
    fail_open(
        PART, NOT_RECORDED, lambda: _cache().set(_key(user_pk, kind), conn_id, TTL_SECONDS), None
    )


def presence_clear(*, user_pk: int, kind: str, conn_id: str) -> None:
    """Forget this connection, unless a newer one of the same kind has taken its place."""

    def clear() -> None:
        if _cache().get(_key(user_pk, kind)) == conn_id:
            _cache().delete(_key(user_pk, kind))

    fail_open(PART, NOT_RECORDED, clear, None)


def presence_kinds(user_pks: Iterable[int]) -> dict[int, list[str]]:
    """The client kinds each user is connected with right now (absent: offline)."""
    pks = list(set(user_pks))
    keys = [_key(pk, kind) for pk in pks for kind in KINDS]
    found = fail_open(PART, NOT_RECORDED, lambda: _cache().get_many(keys), {})
    result: dict[int, list[str]] = {}
    for pk in pks:
        kinds = [kind for kind in KINDS if _key(pk, kind) in found]
        if kinds:
            result[pk] = kinds
    return result


# --- which room each connection shows, and whether its window has focus --------------------
# One entry per (user, kind), like presence: a newer connection of a kind replaces the older,
# and the entry expires with the same TTL unless `alive` refreshes it. Notifications read it
# on any process to stay quiet for a room the person is looking at.


def _focus_key(user_pk: int, kind: str) -> str:
    return f"focus:{user_pk}:{kind}"


def focus_mark(
    *, user_pk: int, kind: str, conn_id: str, room_id: int | None, focused: bool
) -> None:
    """Record the room this connection has open (None: none) and whether it has focus."""
    key = _focus_key(user_pk, kind)
    if room_id is None:
        fail_open(PART, NOT_RECORDED, lambda: _cache().delete(key), None)
        return
    entry = {"conn": conn_id, "room": room_id, "focused": focused}
    fail_open(PART, NOT_RECORDED, lambda: _cache().set(key, entry, TTL_SECONDS), None)


def focus_clear(*, user_pk: int, kind: str, conn_id: str) -> None:
    """Forget this connection's open room, unless a newer connection has replaced it."""

    def clear() -> None:
        entry = _cache().get(_focus_key(user_pk, kind))
        if entry is not None and entry.get("conn") == conn_id:
            _cache().delete(_focus_key(user_pk, kind))

    fail_open(PART, NOT_RECORDED, clear, None)


def room_focused_pks(*, user_pks: Iterable[int], room_id: int) -> set[int]:
    """The users who have this room open and focused on any connection right now."""
    pks = list(set(user_pks))
    keys = [_focus_key(pk, kind) for pk in pks for kind in KINDS]
    found = fail_open(PART, NOT_RECORDED, lambda: _cache().get_many(keys), {})
    return {
        pk
        for pk in pks
        for kind in KINDS
        if (entry := found.get(_focus_key(pk, kind)))
        and entry.get("room") == room_id
        and entry.get("focused")
    }
