"""Writes about people: my own profile, settings and picture; what admins do to accounts;
the action log. The HR sync lives in orgsync.sync."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from messenger.errors import InvalidInput, NotAllowed
from messenger.realtime import close_user_sessions
from orgsync import sessions
from orgsync.errors import PasswordNotLocal, WrongPassword
from orgsync.models import ActionLog, LoginSession, User
from orgsync.pictures import picture_check_size, picture_normalize
from orgsync.signals import users_active_changed

logger = logging.getLogger(__name__)

# The gateway's close codes (messenger/gateway/auth.py, which sits above this layer).
CLOSE_BAD_TOKEN = 4001
CLOSE_DISABLED = 4003
LOGIN_DEVICES = ("web", "mobile")

PROFILE_FIELDS = (
    "nickname",
    "notify_off",
    "hide_body",
    "hide_sender",
    "quiet_from",
    "quiet_to",
    "time_zone",
    "notify_mentions",
)


@transaction.atomic
def time_zone_valid(name: str) -> bool:
    """Whether a name is an IANA time zone this server knows (zoneinfo)."""
    if not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def profile_update(*, user: User, changes: dict[str, Any]) -> User:
    """Change my nickname/status and notification settings; quiet hours come as a pair."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise InvalidInput(f"These fields cannot be changed here: {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(user, field, value)
    quiet: tuple[time | None, time | None] = (user.quiet_from, user.quiet_to)
    if (quiet[0] is None) != (quiet[1] is None):
        raise InvalidInput("quiet_from and quiet_to must be given together (or both cleared).")
    if quiet[0] is not None and quiet[0] == quiet[1]:
        raise InvalidInput("quiet_from and quiet_to may not be the same time.")
    if "time_zone" in changes and not time_zone_valid(user.time_zone):
        raise InvalidInput("time_zone must be an IANA time zone name, e.g. Asia/Seoul.")
    user.modified_by = user.user_id
    user.save()
    return user


def action_log_build(
    *,
    user: User | None,
    work: str,
    device: str = "",
    state: str = "",
    started_at: Any = None,
    ended_at: Any = None,
    detail: str = "",
) -> ActionLog:
    """One line of the action log, not yet saved (action_log_record saves one,
    action_log_record_many several at once)."""
    duration = 0
    if started_at is not None and ended_at is not None:
        duration = max(int((ended_at - started_at).total_seconds()), 0)
    return ActionLog(
        user=user,
        work=work,
        device=device[:10],
        state=state[:10],
        started_at=started_at,
        ended_at=ended_at,
        duration_seconds=duration,
        detail=detail[:200],
    )


def action_log_record(
    *,
    user: User | None,
    work: str,
    device: str = "",
    state: str = "",
    started_at: Any = None,
    ended_at: Any = None,
    detail: str = "",
) -> ActionLog:
    """Append one line to the action log (connect/disconnect with duration, logins, syncs)."""
    entry = action_log_build(
        user=user,
        work=work,
        device=device,
        state=state,
        started_at=started_at,
        ended_at=ended_at,
        detail=detail,
    )
    entry.save(force_insert=True)
    return entry


def action_log_record_many(entries: list[ActionLog]) -> None:
    """Append lines built by action_log_build in one INSERT per thousand."""
    ActionLog.objects.bulk_create(entries, batch_size=1000)


def sessions_close(user_pks: list[int], code: int) -> None:
    """Close the live sockets of these users; a channel-layer failure is logged, not raised,
    because the write that asked for it has committed."""
    for done, pk in enumerate(user_pks):
        try:
            close_user_sessions(pk, code)
        except Exception:
            logger.exception(
                "closing live sessions failed; %d users may keep an open socket",
                len(user_pks) - done,
            )
            return


def sessions_close_on_commit(user_pks: list[int], code: int) -> None:
    """Close these users' live sockets once the current transaction commits."""
    if user_pks:
        pks = list(user_pks)
        transaction.on_commit(lambda: sessions_close(pks, code))


@transaction.atomic
def users_set_active(*, actor: User, user_pks: Iterable[int], active: bool) -> list[int]:
    """Deactivate or reactivate accounts (admin); return the pks that changed.

    A deactivated account's tokens stop working at once and its live sockets are closed with
    4003 after commit; its memberships are set aside and back again on reactivation
    (`users_active_changed`, rooms.services.memberships_set_active). A deactivated HR-synced
    account becomes manual, so the next HR batch does not reactivate it; ticking 'synced'
    hands it back to HR.
    """
    users = list(
        User.objects.select_for_update()
        .filter(pk__in=list(user_pks), is_active=not active)
        .order_by("pk")
    )
    if not active:
        if any(u.pk == actor.pk for u in users):
            raise NotAllowed("You cannot deactivate your own account.")
        if any(u.is_superuser for u in users) and not actor.is_superuser:
            raise NotAllowed("Only a superuser may deactivate a superuser.")
    pks = [u.pk for u in users]
    changes: dict[str, Any] = {
        "is_active": active,
        "modified_by": actor.user_id,
        "modified_at": timezone.now(),
    }
    if not active:
        changes["is_synced"] = False
    User.objects.filter(pk__in=pks).update(**changes)
    if pks:
        users_active_changed.send(sender=User, user_pks=pks, active=active)
    if not active:
        sessions_close_on_commit(pks, CLOSE_DISABLED)
    logger.info(
        "user %s %s %d accounts", actor.pk, "reactivated" if active else "deactivated", len(pks)
    )
    return pks


def user_sessions_close(*, actor: User, user_pks: Iterable[int]) -> list[int]:
    """Disconnect the live sockets of active accounts (admin), with 4001: log in again.

    Tokens are not revoked: a client holding a valid one reconnects. Deactivation is what
    locks someone out.
    """
    pks = list(User.objects.filter(pk__in=list(user_pks)).values_list("pk", flat=True))
    sessions_close(pks, CLOSE_BAD_TOKEN)
    logger.info("user %s closed the live sessions of %d accounts", actor.pk, len(pks))
    return pks


def _read_upload(upload: UploadedFile | bytes) -> bytes:
    if isinstance(upload, bytes):
        return upload
    picture_check_size(size=upload.size or 0)
    upload.seek(0)
    return upload.read()


@transaction.atomic
def profile_picture_set(*, user: User, upload: UploadedFile | bytes, actor: User) -> User:
    """Store a new profile picture for user: checked from its bytes, made a square JPEG without
    metadata under a random name; the old file is removed after commit."""
    jpeg = picture_normalize(data=_read_upload(upload))
    moment = timezone.now()
    name = default_storage.save(
        f"profile/{moment:%Y/%m}/{secrets.token_hex(16)}.jpg", ContentFile(jpeg)
    )
    old = user.picture.name
    try:
        User.objects.filter(pk=user.pk).update(
            picture=name, modified_by=actor.user_id, modified_at=moment
        )
    except Exception:
        default_storage.delete(name)
        raise
    user.picture.name = name
    user.modified_by = actor.user_id
    if old:
        transaction.on_commit(lambda: default_storage.delete(old), robust=True)
    return user


@transaction.atomic
def profile_picture_remove(*, user: User, actor: User) -> User:
    """Remove a profile picture; the file is deleted after commit."""
    old = user.picture.name
    if old:
        User.objects.filter(pk=user.pk).update(
            picture="", modified_by=actor.user_id, modified_at=timezone.now()
        )
        user.picture.name = ""
        transaction.on_commit(lambda: default_storage.delete(old), robust=True)
    return user


def login_tokens(
    *, user: User, method: str, device: Any, address: str, user_agent: str = ""
) -> dict[str, str]:
    """The access and refresh tokens of a successful sign-on, whatever its method (password,
    ERP ticket, directory, OpenID Connect): the one place a signed-in session starts. The
    tokens carry the new session's id (`sid`), by which the device can be signed out."""
    session = sessions.session_start(
        user=user, method=method, device=device, address=address, user_agent=user_agent
    )
    if jwt_settings.UPDATE_LAST_LOGIN:
        update_last_login(None, user)
    return sessions.session_tokens(user=user, session=session)


def password_check_old(*, user: User, old_password: Any) -> None:
    """Refuse a password change before anything is written: PasswordNotLocal for an account
    without a local password (HR-synced, signing on through the company), WrongPassword for
    a wrong current password (the caller counts it against the login limits)."""
    if not user.has_usable_password():
        raise PasswordNotLocal()
    if not isinstance(old_password, str) or not user.check_password(old_password):
        raise WrongPassword()


def password_change(
    *,
    user: User,
    old_password: Any,
    new_password: Any,
    sid: int | None,
    device: Any = None,
    address: str = "",
    user_agent: str = "",
) -> dict[str, str]:
    """Change my own password: the old one is required, the new one must pass
    AUTH_PASSWORD_VALIDATORS. Every other signed-in device is signed out (its tokens carry the
    old password's stamp, and its session ends; its sockets close after commit); the current
    session `sid` goes on with the fresh tokens returned (a new session if the caller's token
    had none)."""
    password_check_old(user=user, old_password=old_password)
    if not isinstance(new_password, str) or not new_password:
        raise InvalidInput(_("Enter the new password."))
    if new_password == old_password:
        raise InvalidInput(_("The new password must differ from the current one."))
    try:
        validate_password(new_password, user)
    except DjangoValidationError as error:
        raise InvalidInput(
            " ".join(error.messages), extra={"new_password": list(error.messages)}
        ) from None
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(new_password)
        user.modified_by = user.user_id
        user.save(update_fields=["password", "modified_by", "modified_at"])
        session = LoginSession.objects.filter(pk=sid, user=user, ended_at=None).first()
        if session is None:
            session = sessions.session_start(
                user=user,
                method="password",
                device=device,
                address=address,
                user_agent=user_agent,
            )
        ended = sessions.sessions_end_others(
            user=user, keep_sid=session.pk, reason=LoginSession.EndReason.PASSWORD
        )
        action_log_record(
            user=user,
            work=ActionLog.Work.PASSWORD,
            device=session.kind,
            state="ok",
            detail=f"{address} ended {ended} sessions".strip(),
        )
        tokens = sessions.session_tokens(user=user, session=session)
    logger.info("user %s changed their password; %d other sessions ended", user.pk, ended)
    return tokens


def password_change_refused(*, user: User, state: str, address: str) -> ActionLog:
    """Log a refused change of my own password: `password` (wrong current password) or
    `locked` (over the failed-login limits). Never the passwords."""
    logger.info("password change refused (%s) for user pk %s", state, user.pk)
    return action_log_record(
        user=user, work=ActionLog.Work.PASSWORD_FAILED, state=state, detail=address
    )


def login_record(
    *,
    user_id: Any,
    ok: bool,
    device: Any,
    address: str,
    locked: bool = False,
    unreachable: bool = False,
) -> ActionLog:
    """Log one login attempt, successful or not, with the account when it exists; `locked`
    marks one refused by the failed-login limit before its password was tried, `unreachable`
    one whose password the company directory could not check."""
    attempted = user_id[:64] if isinstance(user_id, str) else ""
    user = User.objects.filter(user_id=attempted).first() if attempted else None
    if ok:
        state = "ok"
    elif locked:
        state = "locked"
    elif unreachable:
        state = "dir_down"
    elif user is None:
        state = "unknown"
    elif not user.is_active:
        state = "inactive"
    else:
        state = "password"
    if not ok:
        logger.info("login refused (%s) for user pk %s", state, user.pk if user else None)
    return action_log_record(
        user=user,
        work=ActionLog.Work.LOGIN if ok else ActionLog.Work.LOGIN_FAILED,
        device=device if device in LOGIN_DEVICES else "",
        state=state,
        detail=f"{address} {attempted}".strip(),
    )


def login_record_method(
    *,
    method: str,
    ok: bool,
    device: Any,
    address: str,
    state: str = "",
    user: User | None = None,
    attempted: str = "",
) -> ActionLog:
    """Log one sign-on attempt of a method other than the password (oidc, ...): the account
    when known, the refusal's reason in `state`; the detail names the method, the address and
    the user id tried, never a code, ticket or token."""
    if not ok:
        logger.info(
            "%s sign-on refused (%s) for user pk %s", method, state, user.pk if user else None
        )
    return action_log_record(
        user=user,
        work=ActionLog.Work.LOGIN if ok else ActionLog.Work.LOGIN_FAILED,
        device=device if device in LOGIN_DEVICES else "",
        state="ok" if ok else state,
        detail=f"{method} {address} {attempted[:64]}".strip(),
    )
