"""Working on while Redis is down: what may go without it fails open, and says so in the log.

Redis holds what the messenger can do without for a while: rate-limit counters, presence,
the real-time fan-out. A send is stored in the database and acked whatever Redis does
(docs/reliability.md). The parts that use Redis for such things call it through `fail_open`,
which turns a lost, refused or timed-out Redis connection into the given fallback and a
warning, at most one a minute per part (with the count of calls it let through), so an outage
under load does not flood the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction

from messenger.errors import is_redis_outage

logger = logging.getLogger(__name__)
T = TypeVar("T")

WARNING_INTERVAL_SECONDS = 60.0

_lock = threading.Lock()
_warned_at: dict[str, float] = {}
_unwarned: dict[str, int] = {}


def redis_down(part: str, consequence: str, exc: BaseException) -> None:
    """Log that `part` goes on without Redis and what that means; at most once a minute."""
    with _lock:
        _unwarned[part] = _unwarned.get(part, 0) + 1
        now = time.monotonic()
        if now - _warned_at.get(part, float("-inf")) < WARNING_INTERVAL_SECONDS:
            return
        calls = _unwarned.pop(part)
        _warned_at[part] = now
    logger.warning(
        "%s: Redis is unreachable (%s: %s), %s; %d call(s) since the last such warning "
        "(logged at most once per %d s)",
        part,
        type(exc).__name__,
        exc,
        consequence,
        calls,
        WARNING_INTERVAL_SECONDS,
    )


def fail_open(part: str, consequence: str, operation: Callable[[], T], fallback: T) -> T:
    """`operation()`, or `fallback` if it failed because Redis is unreachable (logged)."""
    try:
        return operation()
    except Exception as exc:
        if not is_redis_outage(exc):
            raise
        redis_down(part, consequence, exc)
        return fallback


# Queuing a task tries the broker twice at once (the second on a fresh connection, for a pooled
# one that Redis dropped when it restarted), instead of Celery's default of four tries over
# 0.4 s: while Redis is down each send waited that long for its notification task to fail.
QUEUE_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


def queue_on_commit(task: Any, *args: Any, part: str, consequence: str) -> None:
    """Queue a Celery task once the transaction commits. With the broker (Redis) down the
    task is not queued and a warning says what that costs (`consequence`): what was committed
    stays committed, and the caller (a send) is not held up."""

    def queue() -> None:
        fail_open(
            part,
            consequence,
            lambda: task.apply_async(args, retry=True, retry_policy=QUEUE_RETRY_POLICY),
            None,
        )

    transaction.on_commit(queue, robust=True)
