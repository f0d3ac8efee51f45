"""Writes about people: my own profile and settings."""

from __future__ import annotations

from datetime import time
from typing import Any

from django.db import transaction

from messenger.errors import InvalidInput
from orgsync.models import ActionLog, User

PROFILE_FIELDS = ("nickname", "notify_off", "hide_body", "hide_sender", "quiet_from", "quiet_to")


@transaction.atomic
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
    user.modified_by = user.user_id
    user.save()
    return user


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
    duration = 0
    if started_at is not None and ended_at is not None:
        duration = max(int((ended_at - started_at).total_seconds()), 0)
    return ActionLog.objects.create(
        user=user,
        work=work,
        device=device[:10],
        state=state[:10],
        started_at=started_at,
        ended_at=ended_at,
        duration_seconds=duration,
        detail=detail[:200],
    )
