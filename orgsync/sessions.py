"""Signed-in sessions, one per device: started by every sign-on (services.login_tokens), checked
by REST (orgsync.authentication) and the gateway, ended by logging out, by signing the device
out from another one, or by a new password. docs/security.md, "Sessions and sign-out"."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from messenger.errors import NotFound, ServiceUnavailable
from messenger.realtime import close_user_sessions
from orgsync.models import ActionLog, LoginSession, User

logger = logging.getLogger(__name__)

SID_CLAIM = "sid"
# The gateway's close code for a socket whose token is no longer good (messenger/gateway/auth.py,
# which sits above this layer): clients renew the token, which a signed-out session cannot.
CLOSE_BAD_TOKEN = 4001

# A live session's state is cached this long, and its last_seen_at is written once per cache
# miss: at most this often per session from requests and socket connects, never per request.
LIVE_CACHE_SECONDS = 300
_LIVE = "1"
_ENDED = "0"


def _cache_key(sid: int) -> str:
    return f"login-session:{sid}"


def _ended_cache_seconds() -> int:
    # Past the refresh token's lifetime no token of the session is valid anyway.
    return int(jwt_settings.REFRESH_TOKEN_LIFETIME.total_seconds()) + 60


# --- the device as people read it ---------------------------------------------------------------

_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(?:e|A|iOS)?/(\d+)")),
    ("Whale", re.compile(r"\bWhale/(\d+)")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/(\d+)")),
    ("Opera", re.compile(r"\b(?:OPR|Opera)/(\d+)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"\b(?:HeadlessChrome|Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"\bVersion/(\d+)(?:\.\d+)*(?: Mobile/\S+)? Safari/")),
)
_SYSTEMS = (
    ("iPadOS", re.compile(r"\biPad\b")),
    ("iOS", re.compile(r"\b(?:iPhone|iPod)\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b")),
)
_PRODUCT = re.compile(r"^([A-Za-z][\w.-]{0,30})(?:/([\w.]{1,12}))?")


def user_agent_label(user_agent: str) -> str:
    """A short readable form of a User-Agent header, e.g. "Chrome 131 on Windows"; for other
    clients their product name ("okhttp 4.12"), else empty. Simple patterns, not a database:
    an unknown browser is shown by what it calls itself."""
    text = (user_agent or "")[:512]
    browser = ""
    for name, pattern in _BROWSERS:
        found = pattern.search(text)
        if found:
            browser = f"{name} {found.group(1)}"
            break
    system = next((name for name, pattern in _SYSTEMS if pattern.search(text)), "")
    if not browser:
        product = _PRODUCT.match(text.strip())
        if product and product.group(1) != "Mozilla":
            browser = " ".join(part for part in product.groups() if part)
    if browser and system:
        return f"{browser} on {system}"[:64]
    return (browser or system)[:64]


def device_kind(device: Any) -> str:
    """web or mobile, as the client said at sign-on; anything else is other."""
    return device if device in (LoginSession.Kind.WEB, LoginSession.Kind.MOBILE) else "other"


# --- start --------------------------------------------------------------------------------------


def session_start(
    *, user: User, method: str, device: Any, address: str, user_agent: str = ""
) -> LoginSession:
    """Record a new signed-in device for a successful sign-on."""
    now = timezone.now()
    return LoginSession.objects.create(
        user=user,
        kind=device_kind(device),
        method=(method or "")[:20],
        last_seen_at=now,
        address=(address or "")[:45],
        browser=user_agent_label(user_agent),
    )


def session_tokens(*, user: User, session: LoginSession) -> dict[str, str]:
    """Access and refresh tokens of a session: simplejwt's claims (user id, the password's
    stamp) plus `sid`, which simplejwt copies from the refresh token into every access token
    made from it.

    Built without RefreshToken.for_user, which with the blacklist app installed stores every
    live refresh token's text in the database; logout stores the one it revokes."""
    refresh = RefreshToken()
    refresh[jwt_settings.USER_ID_CLAIM] = str(getattr(user, jwt_settings.USER_ID_FIELD))
    if jwt_settings.CHECK_REVOKE_TOKEN:
        refresh[jwt_settings.REVOKE_TOKEN_CLAIM] = get_md5_hash_password(user.password)
    refresh[SID_CLAIM] = session.pk
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


# --- checks -------------------------------------------------------------------------------------


def claimed_sid(claims: Any) -> int | None:
    """The session id a token carries; None for tokens made before sessions existed (they
    expire within the refresh lifetime) and for ones made outside a sign-on (tests, tools)."""
    sid = claims.get(SID_CLAIM) if hasattr(claims, "get") else None
    return sid if isinstance(sid, int) and not isinstance(sid, bool) else None


def _live_in_database(*, sid: int, user_pk: int, touch: bool) -> bool:
    live = LoginSession.objects.filter(pk=sid, user_id=user_pk, ended_at=None)
    if touch:
        # One statement reads and touches; it waits for a sign-out being committed on the row.
        return live.update(last_seen_at=timezone.now()) == 1
    return live.exists()


def session_is_live(*, sid: int, user_pk: int) -> bool:
    """Whether a session may still be used, for REST requests and socket connects.

    From the cache while it holds the answer; on a miss (at most every LIVE_CACHE_SECONDS per
    live session) from the database, touching last_seen_at on the way. The cache is only ever
    added to here, and sign-out overwrites it in its own transaction, so a stale "live" cannot
    win a race with a sign-out. Without the cache (Redis down) every check reads the database:
    slower, never wrong, and it writes nothing."""
    key = _cache_key(sid)
    try:
        state = cache.get(key)
    except RedisError:
        logger.warning("session cache unavailable; session %s checked in the database", sid)
        return _live_in_database(sid=sid, user_pk=user_pk, touch=False)
    if state is not None:
        return state == _LIVE
    live = _live_in_database(sid=sid, user_pk=user_pk, touch=True)
    try:
        cache.add(
            key,
            _LIVE if live else _ENDED,
            LIVE_CACHE_SECONDS if live else _ended_cache_seconds(),
        )
    except RedisError:
        logger.warning("session cache unavailable; session %s state not cached", sid)
    return live


def session_refreshed(*, sid: int, user_pk: int) -> bool:
    """A refresh of this session's access token: False if the session has ended (the refresh
    is refused), else its last_seen_at is now. Always the database: refreshes are rare."""
    return _live_in_database(sid=sid, user_pk=user_pk, touch=True)


def live_sids(sids: Iterable[int]) -> set[int]:
    """Which of these sessions are live, in one query (the gateway's per-frame check)."""
    wanted = list(set(sids))
    if not wanted:
        return set()
    return set(
        LoginSession.objects.filter(pk__in=wanted, ended_at=None).values_list("pk", flat=True)
    )


# --- end ----------------------------------------------------------------------------------------


def _mark_ended(sids: list[int], *, strict: bool) -> None:
    """Tell every server process's checks that these sessions have ended, inside the ending
    transaction. `strict`: Redis being unreachable fails the sign-out (503, nothing changed),
    because a "live" answer cached before it would outlive it for up to LIVE_CACHE_SECONDS."""
    try:
        cache.set_many({_cache_key(sid): _ENDED for sid in sids}, _ended_cache_seconds())
    except RedisError as error:
        if strict:
            logger.warning("sign-out of %d sessions refused: session cache unavailable", len(sids))
            raise ServiceUnavailable() from error
        logger.warning("session cache unavailable; %d ended sessions not cached", len(sids))


def _close_sockets_on_commit(user_pk: int, **which: int) -> None:
    def close() -> None:
        try:
            close_user_sessions(user_pk, CLOSE_BAD_TOKEN, **which)
        except RedisError:
            # Their next frame is refused anyway: the gateway checks the session per frame.
            logger.warning("closing the sockets of user %s failed (%s)", user_pk, which)

    transaction.on_commit(close)


def _log_end(*, user: User, session: LoginSession, reason: str, detail: str = "") -> None:
    ActionLog.objects.create(
        user=user,
        work=ActionLog.Work.LOGOUT,
        device=session.kind[:10],
        state=reason[:10],
        started_at=session.created_at,
        ended_at=session.ended_at,
        duration_seconds=max(int((session.ended_at - session.created_at).total_seconds()), 0)
        if session.ended_at
        else 0,
        detail=f"session {session.pk} {detail}".strip()[:200],
    )


@transaction.atomic
def session_end(*, user: User, session_id: Any, reason: str) -> LoginSession:
    """Sign one of my devices out: its refresh token is refused, its access tokens stop working
    on REST and the socket at once, and its sockets are closed (4001) after commit. Another
    person's session, or no such session, is NotFound; one already ended is left as it was."""
    if not isinstance(session_id, int) or isinstance(session_id, bool):
        raise NotFound(_("No such signed-in device."))
    session = LoginSession.objects.select_for_update().filter(pk=session_id, user=user).first()
    if session is None:
        raise NotFound(_("No such signed-in device."))
    if session.ended_at is not None:
        return session
    session.ended_at = timezone.now()
    session.end_reason = reason
    session.save(update_fields=["ended_at", "end_reason"])
    _mark_ended([session.pk], strict=True)
    _close_sockets_on_commit(user.pk, sid=session.pk)
    _log_end(user=user, session=session, reason=reason)
    logger.info("user %s ended session %s (%s)", user.pk, session.pk, reason)
    return session


@transaction.atomic
def sessions_end_others(*, user: User, keep_sid: int | None, reason: str) -> int:
    """End every live session of the user but `keep_sid` and close their sockets after commit;
    the number ended. For a new password, whose stamp revokes the old tokens anyway, so the
    cache is told on a best-effort basis."""
    now = timezone.now()
    others = LoginSession.objects.select_for_update().filter(user=user, ended_at=None)
    if keep_sid is not None:
        others = others.exclude(pk=keep_sid)
    sids = list(others.values_list("pk", flat=True))
    if sids:
        LoginSession.objects.filter(pk__in=sids).update(ended_at=now, end_reason=reason)
        _mark_ended(sids, strict=reason != LoginSession.EndReason.PASSWORD)
    if keep_sid is None:
        _close_sockets_on_commit(user.pk)
    else:
        _close_sockets_on_commit(user.pk, keep_sid=keep_sid)
    logger.info("user %s ended %d other sessions (%s)", user.pk, len(sids), reason)
    return len(sids)


@transaction.atomic
def session_logout(*, refresh: RefreshToken) -> LoginSession | None:
    """Log out with a refresh token (already verified: signature, lifetime, not revoked): the
    token goes on simplejwt's blacklist and its session ends like a device signed out."""
    refresh.blacklist()
    sid = claimed_sid(refresh.payload)
    user = User.objects.filter(pk=refresh.payload.get(jwt_settings.USER_ID_CLAIM)).first()
    if sid is None or user is None:
        return None
    try:
        return session_end(user=user, session_id=sid, reason=LoginSession.EndReason.LOGOUT)
    except NotFound:
        return None
