"""Single-use tickets for opening the WebSocket (docs/protocol.md, "Authentication").

A browser cannot set headers on a WebSocket, and a token in the socket's URL ends up in proxy
and access logs. So the client first asks `POST /api/auth/ws-ticket` (with its token, in a
header) for a random ticket that stands for that token's claims for at most
MESSENGER_WS_TICKET_SECONDS, and connects with `?ticket=`. The gateway takes the ticket out
of the cache (once) and checks the claims exactly as it checks a token's, so the socket is
bound to the same account and session. The cache key is a hash of the ticket: the ticket
itself is in no key, no log and no monitor output.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache

KEY_PREFIX = "ws-ticket"
TICKET_MAX_CHARS = 128


def _key(ticket: str) -> str:
    return f"{KEY_PREFIX}:{hashlib.sha256(ticket.encode()).hexdigest()}"


def ws_ticket_issue(*, claims: Mapping[str, Any]) -> tuple[str, int]:
    """A new ticket for these (an access token's) claims, and its lifetime in seconds."""
    ticket = secrets.token_urlsafe(32)
    lifetime = settings.MESSENGER_WS_TICKET_SECONDS
    value = {"claims": dict(claims), "expires": time.time() + lifetime}
    cache.set(_key(ticket), value, timeout=lifetime)
    return ticket, lifetime


def ws_ticket_take(*, ticket: Any) -> dict[str, Any] | None:
    """The claims a ticket stands for, once: None for an unknown, expired or used ticket. Of
    two sockets racing with one ticket, only the one whose delete removed it gets the claims."""
    if not isinstance(ticket, str) or not 0 < len(ticket) <= TICKET_MAX_CHARS:
        return None
    key = _key(ticket)
    value = cache.get(key)
    if not isinstance(value, dict) or not cache.delete(key):
        return None
    if value.get("expires", 0) < time.time():
        return None
    return value.get("claims")
