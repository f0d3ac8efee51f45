"""Receivers of orgsync's signals: memberships follow whether a person's account is active."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from orgsync.signals import users_active_changed
from rooms.services import memberships_set_active


@receiver(users_active_changed, dispatch_uid="rooms.memberships_set_active")
def set_memberships_active(*, user_pks: list[int], active: bool, **_kwargs: Any) -> None:
    memberships_set_active(user_pks=user_pks, active=active)
