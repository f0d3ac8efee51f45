"""Data for the fault tests, written by a Django process on the private database (run through
Stack.python, never imported by the test process itself)."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.tokens import AccessToken

from messages import services as message_services
from tests.factories import OrgFactory, UserFactory


def room_with_members(*, prefix: str, count: int) -> dict[str, Any]:
    """A group room of `count` new people; their user ids and access tokens."""
    org = OrgFactory(org_cd=f"F-{prefix}", name=prefix)
    users = [
        UserFactory(user_id=f"{prefix}{i:03d}", name=f"{prefix}{i}", org=org) for i in range(count)
    ]
    room, _ = message_services.room_create(
        actor=users[0], member_ids=[u.user_id for u in users[1:]], name=prefix
    )
    return {
        "room_id": room.pk,
        "users": [{"user_id": u.user_id, "token": str(AccessToken.for_user(u))} for u in users],
    }


def rooms_with_members(*, prefixes: list[str], count: int) -> dict[str, dict[str, Any]]:
    """One room_with_members per prefix, in one process."""
    return {prefix: room_with_members(prefix=prefix, count=count) for prefix in prefixes}
