"""Publishing real-time events to users: the one fan-out function and its on-commit wrapper.

Every push goes through `publish_to_users`, so the transport (messenger.fanout: one Redis
subscription per server process, frames encoded once) stays behind one function. Pushes are
at-most-once by nature; delivery guarantees come from the database (seq + catch-up), never
from this layer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from messenger import fanout

logger = logging.getLogger(__name__)


def encode_frame(event: str, data: dict[str, Any]) -> str:
    return json.dumps({"ev": event, "data": data}, cls=DjangoJSONEncoder, ensure_ascii=False)


def _users_envelope(user_ids: Iterable[int], event: str, data: dict[str, Any]) -> bytes | None:
    users = sorted(set(user_ids))
    if not users:
        return None
    return fanout.envelope({"u": users}, encode_frame(event, data))


def publish_to_users(user_ids: Iterable[int], event: str, data: dict[str, Any]) -> None:
    """Send one push frame to every live connection of the given users (any process)."""
    envelope = _users_envelope(user_ids, event, data)
    if envelope is not None:
        fanout.publish(envelope)


async def apublish_to_users(user_ids: Iterable[int], event: str, data: dict[str, Any]) -> None:
    """`publish_to_users` from async code, without blocking the event loop."""
    envelope = _users_envelope(user_ids, event, data)
    if envelope is not None:
        await fanout.apublish(envelope)


# Pushes published in the block go out together at its end (one round trip, one write per
# socket): for a transaction that commits several messages at once.
published_together = fanout.published_together


def publish_on_commit(user_ids: Iterable[int], event: str, data: dict[str, Any]) -> None:
    """Publish after the current transaction commits, so a rolled-back write sends nothing.

    The write has committed by then: a failed push is logged (robust) rather than turned into
    the caller's error, and clients recover what they missed by seq.
    """
    ids = list(user_ids)
    if ids:
        transaction.on_commit(lambda: publish_to_users(ids, event, data), robust=True)


def close_user_sessions(
    user_id: int, code: int, *, sid: int | None = None, keep_sid: int | None = None
) -> None:
    """Close every live connection of a user (e.g. 4003 when the account is disabled); with
    `sid`, only the sockets opened with that signed-in session's tokens; with `keep_sid`, all
    but those (a new password signs the other devices out)."""
    header: dict[str, Any] = {"u": [user_id], "c": "close", "code": code}
    if sid is not None:
        header["sid"] = sid
    if keep_sid is not None:
        header["keep_sid"] = keep_sid
    fanout.publish(fanout.envelope(header))


async def areplace_sessions(user_id: int, kind: str, keep: str) -> None:
    """Close the user's other connections of this kind, on every process (code 4002)."""
    await fanout.apublish(
        fanout.envelope({"u": [user_id], "c": "replace", "k": kind, "keep": keep})
    )
