"""WebSocket authentication: the same simplejwt access token as REST, or a ticket for one.

Browsers connect with `?ticket=`, a single-use ticket from `POST /api/auth/ws-ticket` that
stands for the claims of the access token that asked for it (messenger/wstickets.py), so no
token travels in a URL. Other clients may send the token itself: the `token` query parameter,
an `access_token` cookie, or a subprotocol `bearer.<token>` (offered beside `messenger.v1`).
Either way the same claims are checked, at connect and before each frame. The middleware puts
the user, or the close code to refuse with, into the scope; the consumer accepts and closes
with that code, because a close code can only be sent on an accepted socket.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Collection, Container, Mapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from messenger.gateway.threads import on_worker_threads
from messenger.wstickets import ws_ticket_take
from orgsync.models import User
from orgsync.selectors import token_password_current
from orgsync.sessions import claimed_sid, live_sids, session_is_live

logger = logging.getLogger(__name__)

CLOSE_BAD_TOKEN = 4001
CLOSE_REPLACED = 4002
CLOSE_DISABLED = 4003
CLOSE_BAD_REQUEST = 4000
CLOSE_TOO_SLOW = 4008
SUBPROTOCOL = "messenger.v1"
BEARER_PREFIX = "bearer."


def _query(scope: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"))


def ticket_from_scope(scope: dict[str, Any]) -> str | None:
    values = _query(scope).get("ticket")
    return values[0] if values else None


def token_from_scope(scope: dict[str, Any]) -> str | None:
    query = _query(scope)
    if query.get("token"):
        return query["token"][0]
    for protocol in scope.get("subprotocols") or []:
        if protocol.startswith(BEARER_PREFIX):
            return protocol[len(BEARER_PREFIX) :]
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookie = SimpleCookie()
            cookie.load(value.decode("latin-1"))
            if "access_token" in cookie:
                return cookie["access_token"].value
    return None


def account_refusal(
    *, user: User | None, claims: Mapping[str, Any], ended_sids: Container[int]
) -> int | None:
    """None while the token's account may use a socket, else the close code: 4003 for a
    deactivated account, 4001 for one that is gone, whose password changed since the token
    was issued, or whose signed-in session (the token's `sid`) is among `ended_sids` (signed
    out). Asked at connect and again before acting on each frame."""
    if user is None:
        return CLOSE_BAD_TOKEN
    if not user.is_active:
        return CLOSE_DISABLED
    if not token_password_current(claims=claims, password=user.password):
        return CLOSE_BAD_TOKEN
    sid = claimed_sid(claims)
    if sid is not None and sid in ended_sids:
        return CLOSE_BAD_TOKEN
    return None


# An account as the per-frame check read it (None: gone), and the waiting sessions that ended.
Account = tuple[User | None, frozenset[int]]


class AccountChecks:
    """The per-frame account checks of one event loop, coalesced: every frame still waits for
    a read of its account made after the frame arrived, but frames that arrive while a read
    is due or under way share the next one (`WHERE pk IN (...)`), so 10,000 sockets sending
    heartbeats cost a few queries a second instead of one thread hop and query per frame.

    `wait` is how long a check may wait for others to join it: 0 for frames a person waits
    on (it only joins a read that is due already), HEARTBEAT_WAIT for `alive`."""

    HEARTBEAT_WAIT = 0.05
    BATCH_MAX = 500

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AccountChecks] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # Per account: each waiting check's future and its token's session id.
        self.waiting: dict[int, list[tuple[asyncio.Future[Account], int | None]]] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.due = 0.0
        self.reading = False
        self.task: asyncio.Task | None = None

    @classmethod
    def of_running_loop(cls) -> AccountChecks:
        loop = asyncio.get_running_loop()
        checks = cls._by_loop.get(loop)
        if checks is None:
            checks = cls._by_loop[loop] = cls(loop)
        return checks

    async def refusal(
        self, *, user_pk: int, claims: Mapping[str, Any], wait: float = 0
    ) -> int | None:
        """account_refusal for the account and its session as they are now in the database."""
        future: asyncio.Future[Account] = self.loop.create_future()
        self.waiting.setdefault(user_pk, []).append((future, claimed_sid(claims)))
        self._schedule(wait)
        user, ended = await future
        return account_refusal(user=user, claims=claims, ended_sids=ended)

    def _schedule(self, wait: float) -> None:
        if self.reading:
            return  # the running read takes the waiting checks when it is done
        due = self.loop.time() + wait
        if self.timer is None or due < self.due:
            if self.timer is not None:
                self.timer.cancel()
            self.due = due
            self.timer = self.loop.call_at(due, self._start)

    def _start(self) -> None:
        self.timer = None
        self.reading = True
        # Kept referenced until done: the loop holds tasks only weakly.
        self.task = self.loop.create_task(self._read_all())

    async def _read_all(self) -> None:
        try:
            while self.waiting:
                pks = list(self.waiting)[: self.BATCH_MAX]
                batch = {pk: self.waiting.pop(pk) for pk in pks}
                sids = {sid for waits in batch.values() for _f, sid in waits if sid is not None}
                try:
                    users, ended = await _active_and_password(pks, sids)
                except Exception as error:  # each waiting frame answers it (e.g. unavailable)
                    for waits in batch.values():
                        for future, _sid in waits:
                            if not future.done():
                                future.set_exception(error)
                    continue
                for pk, waits in batch.items():
                    for future, _sid in waits:
                        if not future.done():
                            future.set_result((users.get(pk), ended))
        finally:
            self.reading = False


async def _active_and_password(
    pks: list[int], sids: Collection[int] = ()
) -> tuple[dict[int, User], frozenset[int]]:
    """The accounts (active? password?) and which of the sessions have ended, gone ones
    included: a second query, only when a waiting token carries a session id."""

    # On the worker threads: behind the process's one database thread, a connect storm's
    # bookkeeping would hold every frame's check (messenger/gateway/threads.py).
    def read() -> tuple[dict[int, User], frozenset[int]]:
        users = {u.pk: u for u in User.objects.filter(pk__in=pks).only("is_active", "password")}
        return users, frozenset(set(sids) - live_sids(sids))

    return await on_worker_threads(read)()


Authenticated = tuple[User | None, int | None, dict[str, Any]]


def user_for_claims(claims: Mapping[str, Any]) -> Authenticated:
    """(user, None, claims) when an access token's claims name an active account they are
    still good for, else (None, close code, {})."""
    user_pk = claims.get(jwt_settings.USER_ID_CLAIM)
    if user_pk is None:
        return None, CLOSE_BAD_TOKEN, {}
    user = User.objects.filter(pk=user_pk).first()
    sid = claimed_sid(claims)
    # A connect counts as the session being seen (at most every few minutes: cached).
    live = sid is None or user is None or session_is_live(sid=sid, user_pk=user.pk)
    refusal = account_refusal(user=user, claims=claims, ended_sids=() if live else (sid,))
    if refusal is not None:
        return None, refusal, {}
    return user, None, dict(claims)


@database_sync_to_async
def user_for_token(raw: str | None) -> Authenticated:
    """user_for_claims of a valid access token; 4001 for a missing or invalid one."""
    if not raw:
        return None, CLOSE_BAD_TOKEN, {}
    try:
        token = AccessToken(raw)  # type: ignore[arg-type]  # the stubs miss the str form
    except TokenError:
        return None, CLOSE_BAD_TOKEN, {}
    return user_for_claims(token.payload)


@database_sync_to_async
def user_for_ticket(raw: str) -> Authenticated:
    """user_for_claims of the token a socket ticket stands for; 4001 for an unknown, used or
    expired ticket, or one whose token has expired since."""
    claims = ws_ticket_take(ticket=raw)
    if claims is None:
        logger.info("websocket ticket refused: unknown, used or expired")
        return None, CLOSE_BAD_TOKEN, {}
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or expires < time.time():
        return None, CLOSE_BAD_TOKEN, {}
    return user_for_claims(claims)


class JwtAuthMiddleware:
    def __init__(self, inner: Any):
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket":
            ticket = ticket_from_scope(scope)
            if ticket is not None:
                user, refusal, claims = await user_for_ticket(ticket)
            else:
                user, refusal, claims = await user_for_token(token_from_scope(scope))
            scope = dict(scope, user=user, auth_refusal=refusal, token_claims=claims)
        return await self.inner(scope, receive, send)


class OriginCheckMiddleware:
    """Refuse browser sockets from pages of other sites (cross-site WebSocket hijacking).

    A socket without an Origin header comes from a non-browser client that holds its token
    explicitly, so it is let through; a browser always sends Origin. Allowed: the ERP portal
    origins in MESSENGER_WS_ORIGINS, and the site's own pages: an Origin whose host (and port)
    is the Host the socket was opened on, that host being one of ALLOWED_HOSTS. Comparing with
    Host, as Django's CSRF check does, keeps a permissive ALLOWED_HOSTS ("*", ".example.com")
    from letting every page (or every sibling site) in.
    """

    def __init__(self, inner: Any):
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not self.allowed(scope):
            logger.warning("websocket refused for origin %r", self._header(scope, b"origin"))
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.inner(scope, receive, send)

    @staticmethod
    def _header(scope: dict[str, Any], wanted: bytes) -> str | None:
        for name, value in scope.get("headers", []):
            if name == wanted:
                return value.decode("latin-1")
        return None

    def allowed(self, scope: dict[str, Any]) -> bool:
        origin = self._header(scope, b"origin")
        if origin is None:
            return True
        if origin in settings.MESSENGER_WS_ORIGINS:
            return True
        host = (self._header(scope, b"host") or "").strip().lower()
        try:
            parts = urlparse(origin.strip())
            origin_host = parts.hostname
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not origin_host or not host:
            return False
        if parts.netloc.lower() != host or parts.username is not None:
            return False
        domain, _port = split_domain_port(host)
        return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)
