"""Reads of people and the org chart."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.fields.files import FieldFile
from django.db.models.functions import Coalesce, Replace
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from messenger.errors import InvalidInput, NotFound
from messenger.presence import presence_kinds
from orgsync.models import LoginSession, Org, User

SEARCH_LIMIT = 50
PATH_MAX = 64  # deeper than any org chart; stops a broken parent chain
PHONE_RE = re.compile(r"[\d\s-]+")


def token_password_current(*, claims: Mapping[str, Any], password: str) -> bool:
    """False for a token issued before the account's password last changed (simplejwt's
    revoke claim), so a new password locks out whoever holds the old tokens."""
    if not jwt_settings.CHECK_REVOKE_TOKEN:
        return True
    return claims.get(jwt_settings.REVOKE_TOKEN_CLAIM) == get_md5_hash_password(password)


def picture_url(user: User) -> str | None:
    """Where a person's picture is served; the v= part changes with every new picture, so
    clients may cache the URL for as long as they like."""
    name = user.picture.name if user.picture else None
    if not name:
        return None
    version = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"/api/users/{quote(user.user_id, safe='')}/picture?v={version}"


def person(user: User, kinds: list[str] | None = None) -> dict[str, Any]:
    """A person as the directory shows them to colleagues."""
    return {
        "user_id": user.user_id,
        "name": user.name,
        "org_cd": user.org.org_cd if user.org else "",
        "org_name": user.org.name if user.org else "",
        "nickname": user.nickname,
        "job": user.job,
        "tel_no": user.tel_no,
        "absence_code": user.absence_code,
        "absence_text": user.absence_text,
        "picture": bool(user.picture),
        "picture_url": picture_url(user),
        "online": bool(kinds),
        "kinds": kinds or [],
    }


def people(users: list[User]) -> list[dict[str, Any]]:
    """Directory entries of these people, with who is online, in one cache read."""
    online = presence_kinds(u.pk for u in users)
    return [person(u, online.get(u.pk)) for u in users]


def user_get(*, user_id: str) -> User:
    """An active person by user id, or NotFound."""
    user = User.objects.select_related("org").filter(user_id=user_id, is_active=True).first()
    if user is None:
        raise NotFound("No such person.")
    return user


def org_path(org: Org | None) -> list[dict[str, str]]:
    """The orgs from the top of the chart down to `org`, one query per level."""
    path: list[dict[str, str]] = []
    seen: set[int] = set()
    current = org
    while current is not None and current.pk not in seen and len(path) < PATH_MAX:
        seen.add(current.pk)
        path.append({"org_cd": current.org_cd, "name": current.name})
        parent_id = current.parent_id
        current = Org.objects.filter(pk=parent_id).first() if parent_id else None
    return path[::-1]


def user_profile(*, user_id: str) -> dict[str, Any]:
    """A colleague's profile: the directory entry with the org path down to their team."""
    user = user_get(user_id=user_id)
    data = person(user, presence_kinds([user.pk]).get(user.pk))
    data["org_path"] = org_path(user.org)
    return data


def user_picture(*, user_id: str) -> FieldFile:
    """The stored picture of an active person, or NotFound."""
    user = user_get(user_id=user_id)
    if not user.picture:
        raise NotFound("This person has no picture.")
    return user.picture


def users_search(*, q: Any) -> list[dict[str, Any]]:
    """People whose name, nickname, user id, org, job or phone contains q."""
    text = q.strip() if isinstance(q, str) else ""
    if not text:
        raise InvalidInput("q must be at least one character.")
    if len(text) > 50:
        raise InvalidInput("q may have at most 50 characters.")
    match = (
        Q(name__icontains=text)
        | Q(nickname__icontains=text)
        | Q(user_id__icontains=text)
        | Q(org__name__icontains=text)
        | Q(org__org_cd__iexact=text)
        | Q(job__icontains=text)
        | Q(tel_no__icontains=text)
    )
    queryset = User.objects.select_related("org").filter(is_active=True)
    digits = re.sub(r"\D", "", text)
    if PHONE_RE.fullmatch(text) and len(digits) >= 3:
        # "01012345678" finds "010-1234-5678", and the other way round.
        queryset = queryset.annotate(
            tel_digits=Replace(Replace(F("tel_no"), Value("-"), Value("")), Value(" "), Value(""))
        )
        match |= Q(tel_digits__contains=digits)
    users = list(queryset.filter(match).order_by("name", "user_id")[:SEARCH_LIMIT])
    return people(users)


def org_tree() -> list[dict[str, Any]]:
    """The whole org chart in SEQ order, each org with its active people, in two queries."""
    orgs = list(Org.objects.filter(is_active=True).select_related("parent").order_by("seq"))
    users = list(
        User.objects.select_related("org")
        .filter(is_active=True, org__isnull=False)
        .order_by("name", "user_id")
    )
    by_org: dict[int, list[User]] = {}
    for user in users:
        if user.org_id is not None:
            by_org.setdefault(user.org_id, []).append(user)
    online = presence_kinds(u.pk for u in users)
    return [
        {
            "org_cd": org.org_cd,
            "name": org.name,
            "level": org.level,
            "seq": org.seq,
            "parent": org.parent.org_cd if org.parent else None,
            "users": [person(u, online.get(u.pk)) for u in by_org.get(org.pk, [])],
        }
        for org in orgs
    ]


def _org_node(org: Org, child_count: int, user_count: int) -> dict[str, Any]:
    return {
        "org_cd": org.org_cd,
        "name": org.name,
        "level": org.level,
        "seq": org.seq,
        "parent": org.parent.org_cd if org.parent else None,
        "child_count": child_count,
        "user_count": user_count,
    }


def _with_counts(orgs: QuerySet[Org]) -> QuerySet[Org]:
    """Annotate each org with its active child orgs and active people, by subquery."""
    children = (
        Org.objects.filter(parent=OuterRef("pk"), is_active=True)
        .order_by()
        .values("parent")
        .annotate(n=Count("pk"))
        .values("n")
    )
    members = (
        User.objects.filter(org=OuterRef("pk"), is_active=True)
        .order_by()
        .values("org")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return orgs.annotate(
        child_count=Coalesce(Subquery(children, output_field=IntegerField()), 0),
        user_count=Coalesce(Subquery(members, output_field=IntegerField()), 0),
    )


def org_branch(*, parent: Any) -> dict[str, Any]:
    """One branch of the org chart, for clients that open it level by level: the org with its
    path, its active child orgs (with their counts) and its active people. An empty code gives
    the top of the chart."""
    code = parent.strip() if isinstance(parent, str) else ""
    org = None
    if code:
        org = (
            _with_counts(Org.objects.select_related("parent"))
            .filter(org_cd=code, is_active=True)
            .first()
        )
        if org is None:
            raise NotFound("No such org.")
    children = list(
        _with_counts(Org.objects.select_related("parent"))
        .filter(is_active=True, parent=org)
        .order_by("seq", "org_cd")
    )
    users: list[User] = []
    if org is not None:
        users = list(
            User.objects.select_related("org")
            .filter(is_active=True, org=org)
            .order_by("name", "user_id")
        )
    return {
        "org": _org_node(org, org.child_count, org.user_count) if org else None,  # type: ignore[attr-defined]
        "path": org_path(org),
        "orgs": [_org_node(o, o.child_count, o.user_count) for o in children],  # type: ignore[attr-defined]
        "users": people(users),
    }


def me(*, user: User) -> dict[str, Any]:
    """My own profile with my notification settings."""
    data = person(user, presence_kinds([user.pk]).get(user.pk))
    data.update(
        {
            "notify_off": user.notify_off,
            "hide_body": user.hide_body,
            "hide_sender": user.hide_sender,
            "quiet_from": user.quiet_from.strftime("%H:%M") if user.quiet_from else None,
            "quiet_to": user.quiet_to.strftime("%H:%M") if user.quiet_to else None,
            "time_zone": user.time_zone,
            "notify_mentions": user.notify_mentions,
            "is_staff": user.is_staff,
            # False for an account without a local password (HR-synced, signing on through
            # the company): the settings page explains instead of offering the form.
            "credentials_changeable": user.has_usable_password(),
        }
    )
    return data


def sessions_of(*, user: User, current_sid: int | None) -> list[dict[str, Any]]:
    """My signed-in devices: the live sessions whose refresh token has not expired, the
    caller's own first, then by last seen."""
    since = timezone.now() - jwt_settings.REFRESH_TOKEN_LIFETIME
    rows = LoginSession.objects.filter(user=user, ended_at=None, created_at__gt=since).order_by(
        "-last_seen_at", "-pk"
    )
    listed = [
        {
            "id": s.pk,
            "kind": s.kind,
            "method": s.method,
            "since": s.created_at,
            "last_seen": s.last_seen_at,
            "address": s.address,
            "browser": s.browser,
            "current": s.pk == current_sid,
        }
        for s in rows
    ]
    return sorted(listed, key=lambda s: not s["current"])
