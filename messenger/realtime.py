"""Publishing real-time events to users: the one fan-out function and its on-commit wrapper.

Every push goes through `publish_to_users`, so the transport (today: one channel-layer group
per user) can be replaced by a faster one without touching the apps. Each frame is encoded
once, whatever the number of receivers. Pushes are at-most-once by nature; delivery
guarantees come from the database (seq + catch-up), never from this layer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)

# Message types the gateway consumer handles (dots become underscores in the handler name).
PUSH = "push.frame"
SESSION_REPLACE = "session.replace"
SESSION_CLOSE = "session.close"


def user_group(user_id: int) -> str:
    return f"u.{user_id}"


def user_kind_group(user_id: int, kind: str) -> str:
    return f"uk.{user_id}.{kind}"


def encode_frame(event: str, data: dict[str, Any]) -> str:
    return json.dumps({"ev": event, "data": data}, cls=DjangoJSONEncoder, ensure_ascii=False)


async def apublish_to_users(user_ids: Iterable[int], event: str, data: dict[str, Any]) -> None:
    """Send one push frame to every live connection of the given users."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": PUSH, "text": encode_frame(event, data)}
    for user_id in set(user_ids):
        await layer.group_send(user_group(user_id), message)


def publish_to_users(user_ids: Iterable[int], event: str, data: dict[str, Any]) -> None:
    """Synchronous form of `apublish_to_users`, for services and tasks."""
    ids = list(user_ids)
    if ids:
        async_to_sync(apublish_to_users)(ids, event, data)


def publish_on_commit(user_ids: Iterable[int], event: str, data: dict[str, Any]) -> None:
    """Publish after the current transaction commits, so a rolled-back write sends nothing.

    The write has committed by then: a failed push is logged (robust) rather than turned into
    the caller's error, and clients recover what they missed by seq.
    """
    ids = list(user_ids)
    if ids:
        transaction.on_commit(lambda: publish_to_users(ids, event, data), robust=True)


def close_user_sessions(user_id: int, code: int) -> None:
    """Close every live connection of a user (e.g. 4003 when the account is disabled)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": SESSION_CLOSE, "code": code})
