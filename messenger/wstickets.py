"""Single-use tickets for opening the WebSocket (docs/protocol.md, "Authentication").

A browser cannot set headers on a WebSocket, and a token in the socket's URL ends up in proxy
and access logs. So the client first asks `POST /api/auth/ws-ticket` (with its token, in a
header) for a ticket that stands for that token's claims for at most
MESSENGER_WS_TICKET_SECONDS, and connects with `?ticket=`. The gateway checks the claims
exactly as it checks a token's, so the socket is bound to the same account and session.

A ticket carries its claims itself, signed with the site's secret (django.core.signing) and
timestamped, so issuing one writes nothing and a Redis outage does not stop browsers from
connecting (docs/reliability.md). Single use is kept in the cache: the first socket to present
a ticket marks its nonce as spent (`cache.add`); while Redis is unreachable that mark cannot
be made, and a ticket is then only as good as its short lifetime (logged, messenger/outage.py).
The ticket itself is in no key, no log and no monitor output.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache

from messenger.outage import fail_open

SALT = "messenger.ws-ticket"
KEY_PREFIX = "ws-ticket-spent"
# A signed ticket of an access token's claims is a few hundred characters.
TICKET_MAX_CHARS = 2048
# settings.MESSENGER_WS_TICKET_SECONDS is capped at this; a ticket's own expiry is signed in it.
LIFETIME_MAX_SECONDS = 60


def ws_ticket_issue(*, claims: Mapping[str, Any]) -> tuple[str, int]:
    """A new ticket for these (an access token's) claims, and its lifetime in seconds."""
    lifetime = settings.MESSENGER_WS_TICKET_SECONDS
    value = {
        "claims": dict(claims),
        "nonce": secrets.token_urlsafe(16),
        "expires": time.time() + lifetime,
    }
    return signing.dumps(value, salt=SALT, compress=True), lifetime


def ws_ticket_take(*, ticket: Any) -> dict[str, Any] | None:
    """The claims a ticket stands for, once: None for a forged, expired or used ticket. Of two
    sockets racing with one ticket, only the one whose `cache.add` marked it spent gets the
    claims."""
    if not isinstance(ticket, str) or not 0 < len(ticket) <= TICKET_MAX_CHARS:
        return None
    try:
        value = signing.loads(ticket, salt=SALT, max_age=LIFETIME_MAX_SECONDS)
    except signing.BadSignature:  # SignatureExpired included
        return None
    if not isinstance(value, dict) or not isinstance(value.get("claims"), dict):
        return None
    lifetime = value.get("expires", 0) - time.time()
    if not isinstance(lifetime, float) or lifetime <= 0:
        return None
    key = f"{KEY_PREFIX}:{hashlib.sha256(str(value.get('nonce')).encode()).hexdigest()}"
    first = fail_open(
        "socket tickets",
        "a ticket may be used more than once within its lifetime",
        lambda: cache.add(key, 1, timeout=math.ceil(lifetime) + 5),
        True,
    )
    return value["claims"] if first else None
