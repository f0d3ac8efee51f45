"""Where the gateway's latency-sensitive database work runs: sends, file forwards and the
per-frame account checks.

`database_sync_to_async` is thread-sensitive by default: all ORM work of a process then runs
on one thread, one call at a time, behind every connect and disconnect of the process (each an
action-log commit and presence writes). In a reconnect storm of 5,000 clients that queue held
a sender's frames for seconds each (docs/benchmarks.md, "Reconnect storm"). A pool of its own
(`MESSENGER_SEND_THREADS`) lets this work overlap its database waits and skip that queue; each
thread has its own connection, opened, health-checked and closed as for any request by
database_sync_to_async. 0 threads (the embedded SQLite, which has no row locks) keeps
everything on the one thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings


def _worker_pool() -> Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]]:
    threads = int(settings.MESSENGER["SEND_THREADS"])
    if threads <= 0:
        return database_sync_to_async
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="send")
    return lambda func: database_sync_to_async(func, thread_sensitive=False, executor=pool)


on_worker_threads = _worker_pool()
