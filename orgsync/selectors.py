"""Reads of people and the org chart."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from messenger.errors import InvalidInput, NotFound
from messenger.presence import presence_kinds
from orgsync.models import Org, User

SEARCH_LIMIT = 50


def person(user: User, kinds: list[str] | None = None) -> dict[str, Any]:
    """A person as the directory shows them to colleagues."""
    return {
        "user_id": user.user_id,
        "name": user.name,
        "org_cd": user.org.org_cd if user.org_id else "",
        "org_name": user.org.name if user.org_id else "",
        "nickname": user.nickname,
        "job": user.job,
        "tel_no": user.tel_no,
        "absence_code": user.absence_code,
        "absence_text": user.absence_text,
        "picture": bool(user.picture),
        "online": bool(kinds),
        "kinds": kinds or [],
    }


def people(users: list[User]) -> list[dict[str, Any]]:
    online = presence_kinds(u.pk for u in users)
    return [person(u, online.get(u.pk)) for u in users]


def user_get(*, user_id: str) -> User:
    user = User.objects.select_related("org").filter(user_id=user_id, is_active=True).first()
    if user is None:
        raise NotFound("No such person.")
    return user


def users_search(*, q: Any) -> list[dict[str, Any]]:
    """People whose name, nickname, user id, org, job or phone contains q."""
    text = q.strip() if isinstance(q, str) else ""
    if not text:
        raise InvalidInput("q must be at least one character.")
    if len(text) > 50:
        raise InvalidInput("q may have at most 50 characters.")
    users = list(
        User.objects.select_related("org")
        .filter(is_active=True)
        .filter(
            Q(name__icontains=text)
            | Q(nickname__icontains=text)
            | Q(user_id__icontains=text)
            | Q(org__name__icontains=text)
            | Q(job__icontains=text)
            | Q(tel_no__icontains=text)
        )
        .order_by("name", "user_id")[:SEARCH_LIMIT]
    )
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
        by_org.setdefault(user.org_id, []).append(user)
    online = presence_kinds(u.pk for u in users)
    return [
        {
            "org_cd": org.org_cd,
            "name": org.name,
            "level": org.level,
            "seq": org.seq,
            "parent": org.parent.org_cd if org.parent_id else None,
            "users": [person(u, online.get(u.pk)) for u in by_org.get(org.pk, [])],
        }
        for org in orgs
    ]


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
            "is_staff": user.is_staff,
        }
    )
    return data
