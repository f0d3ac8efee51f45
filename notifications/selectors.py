"""Reads for notifications: who has a room in view, and where a person can be reached."""

from __future__ import annotations

from collections.abc import Iterable

from messenger import presence
from notifications.models import WebPushSubscription
from orgsync.models import User


def room_focused_user_pks(*, user_pks: Iterable[int], room_id: int) -> set[int]:
    """Users who have room `room_id` open and focused on any connection (any process)."""
    return presence.room_focused_pks(user_pks=user_pks, room_id=room_id)


def connected_kinds(*, user_pk: int) -> list[str]:
    """The client kinds the user is connected with right now (empty: none)."""
    return presence.presence_kinds([user_pk]).get(user_pk, [])


def push_subscriptions_for(*, user: User) -> list[WebPushSubscription]:
    """The user's registered browsers, oldest first."""
    return list(WebPushSubscription.objects.filter(user=user).order_by("pk"))
