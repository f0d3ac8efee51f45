"""Who is online, per client kind, in the shared cache (Redis in production), so every server
process sees the same answer. Entries expire unless the connection refreshes them (each
`alive` heartbeat does), so a crashed process cannot leave people online for ever."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache

KINDS = ("web", "mobile")
TTL_SECONDS = 90


def _key(user_pk: int, kind: str) -> str:
    return f"presence:{user_pk}:{kind}"


def presence_mark(*, user_pk: int, kind: str, conn_id: str) -> None:
    cache.set(_key(user_pk, kind), conn_id, TTL_SECONDS)


def presence_clear(*, user_pk: int, kind: str, conn_id: str) -> None:
    """Forget this connection, unless a newer one of the same kind has taken its place."""
    if cache.get(_key(user_pk, kind)) == conn_id:
        cache.delete(_key(user_pk, kind))


def presence_kinds(user_pks: Iterable[int]) -> dict[int, list[str]]:
    """The client kinds each user is connected with right now (absent: offline)."""
    pks = list(set(user_pks))
    found = cache.get_many([_key(pk, kind) for pk in pks for kind in KINDS])
    result: dict[int, list[str]] = {}
    for pk in pks:
        kinds = [kind for kind in KINDS if _key(pk, kind) in found]
        if kinds:
            result[pk] = kinds
    return result
