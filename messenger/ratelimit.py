"""Rate limits shared by REST and the WebSocket gateway.

A scope (send, typing, upload, login_user, login_ip) has a rate "N/period" in
settings.RATE_LIMITS. Counters live in the Django cache (Redis in production, so a limit holds
across server processes): a window opens with the first counted call and lasts the period; a
call past N in the window raises RateLimited with the seconds until the window closes. REST
renders it as 429 with Retry-After, the socket as an error ack with the same body.

While the cache is unreachable (Redis down) the limits fail open: every call is let through
and a warning says so, at most once a minute. Refusing every send, login and upload because
the counter is gone would turn a Redis outage into a messenger outage (docs/reliability.md);
a limit that is briefly not enforced costs far less.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from messenger.errors import RateLimited
from messenger.outage import fail_open

T = TypeVar("T")

KEY_PREFIX = "ratelimit"
UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400}
RATE_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]*)\s*$")


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


@lru_cache(maxsize=64)
def parse_rate(text: str) -> Rate | None:
    """ "10/15m" -> Rate(10, 900); "off", "" or a count of 0 -> None (no limit)."""
    value = text.strip().lower()
    if value in {"", "off", "none", "0"}:
        return None
    match = RATE_PATTERN.match(value)
    if match is None or match.group(3) not in UNITS:
        raise ImproperlyConfigured(
            f"A rate limit is 'N/period' such as 120/60s, 10/15m or 1/2s, or 'off'; not {text!r}."
        )
    count, amount, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if count == 0:
        return None
    seconds = amount * UNITS[unit]
    if seconds <= 0:
        raise ImproperlyConfigured(f"A rate limit's period must be positive: {text!r}.")
    return Rate(count, seconds)


def rate_for(scope: str) -> Rate | None:
    conf = settings.RATE_LIMITS
    if not conf["ENABLED"]:
        return None
    return parse_rate(conf[scope])


def _keys(scope: str, key: object) -> tuple[str, str]:
    base = f"{KEY_PREFIX}:{scope}:{key}"
    return f"{base}:n", f"{base}:since"


# What a refusal calls the things counted, per scope.
NOUNS = {
    "send": _("messages"),
    "typing": _("typing events in this room"),
    "upload": _("uploads"),
    "login_user": _("failed logins for this account"),
    "login_ip": _("failed logins from this address"),
    "ws_ticket": _("socket tickets"),
}


def _period(seconds: int) -> Any:
    if seconds % 3600 == 0:
        return format_lazy(_("{n} h"), n=seconds // 3600)
    if seconds % 60 == 0:
        return format_lazy(_("{n} min"), n=seconds // 60)
    return format_lazy(_("{n} s"), n=seconds)


def _refusal(scope: str, since: float | None, rate: Rate) -> RateLimited:
    elapsed = time.time() - since if since is not None else 0.0
    retry_after = max(1, math.ceil(rate.seconds - elapsed))
    return RateLimited(
        format_lazy(
            _("Too many {what}: at most {count} per {period}; try again in {retry} s."),
            what=NOUNS.get(scope, scope),
            count=rate.count,
            period=_period(rate.seconds),
            retry=retry_after,
        ),
        retry_after=retry_after,
    )


def _count(scope: str, key: object, rate: Rate, calls: int = 1) -> int:
    """Count `calls` calls; the calls of the current window so far, these included."""
    count_key, since_key = _keys(scope, key)
    if not cache.add(count_key, calls, timeout=rate.seconds):
        try:
            used = cache.incr(count_key, calls)
        except ValueError:
            used = calls  # the window closed between add and incr
        if used > calls:
            return used
        # These calls open the next window; set (again) the expiry that an incr on a key that
        # had just expired would not have.
        cache.set(count_key, used, timeout=rate.seconds)
    cache.set(since_key, time.time(), timeout=rate.seconds)
    return calls


def _fail_open(scope: str, operation: Callable[[], T], fallback: T) -> T:
    """`operation()` on the cache, or `fallback` (the call let through) if Redis is down."""
    return fail_open(
        "rate limits", f"rate limits are not enforced ({scope} first)", operation, fallback
    )


def rate_limit_hit(*, scope: str, key: object) -> None:
    """Count one call of `key` (a user pk, a hashed user id, an address) in `scope`; raise
    RateLimited when it is past the scope's rate. Refused calls count too, but never make the
    window longer."""
    if rate_limit_take(scope=scope, key=key, calls=1) < 1:
        raise rate_limit_refusal(scope=scope, key=key)


def rate_limit_take(*, scope: str, key: object, calls: int) -> int:
    """Count `calls` calls at once (a burst of sends stored together); how many of them, the
    first ones, are within the rate. As with rate_limit_hit, refused calls count too."""
    rate = rate_for(scope)
    if rate is None or calls <= 0:
        return max(calls, 0)
    used = _fail_open(scope, lambda: _count(scope, key, rate, calls), None)
    if used is None:
        return calls
    return max(0, min(calls, rate.count - (used - calls)))


def rate_limit_refusal(*, scope: str, key: object) -> RateLimited:
    """The error for a call of `key` refused in `scope` (its Retry-After from the window)."""
    rate = rate_for(scope)
    assert rate is not None
    since = _fail_open(scope, lambda: cache.get(_keys(scope, key)[1]), None)
    return _refusal(scope, since, rate)


def rate_limit_record(*, scope: str, key: object) -> None:
    """Count one call without refusing it: a failed login, refused by rate_limit_check before
    the next try."""
    rate = rate_for(scope)
    if rate is not None:
        _fail_open(scope, lambda: _count(scope, key, rate), 0)


def rate_limit_check(*, scope: str, key: object) -> None:
    """Raise RateLimited when `key` has used up its rate in `scope`, without counting a call
    (logins count failures only, and check before trying the password)."""
    rate = rate_for(scope)
    if rate is None:
        return
    count_key, since_key = _keys(scope, key)
    values = _fail_open(scope, lambda: cache.get_many([count_key, since_key]), {})
    if int(values.get(count_key) or 0) >= rate.count:
        raise _refusal(scope, values.get(since_key), rate)


def rate_limit_clear(*, scope: str, key: object) -> None:
    """Forget the calls of `key` in `scope` (a successful login clears its failures)."""
    _fail_open(scope, lambda: cache.delete_many(list(_keys(scope, key))), None)
