"""The plug point for native mobile push (FCM, APNs): a small backend interface chosen by
settings.NOTIFICATIONS["MOBILE_BACKEND"] (a dotted path). Those services are not reachable
from here, so the default backend only logs; docs/notifications.md says how to write one."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class MobilePushBackend(Protocol):
    def send(self, *, user_pk: int, notification: dict[str, Any]) -> None:
        """Alert the user's mobile devices. `notification` is the `notify` push's data
        ({room_id, msg_id, seq, title, body, count}), already filtered by the user's
        settings. Raise nothing for an unreachable device: log it."""


class LoggingBackend:
    """Logs what would be sent (ids and counts only, never the text)."""

    def send(self, *, user_pk: int, notification: dict[str, Any]) -> None:
        logger.info(
            "mobile push for user %s: room %s seq %s count %s",
            user_pk,
            notification.get("room_id"),
            notification.get("seq"),
            notification.get("count"),
        )


@cache
def _backend(path: str) -> MobilePushBackend:
    return import_string(path)()


def mobile_backend() -> MobilePushBackend:
    """The configured mobile push backend (one instance per process)."""
    return _backend(settings.NOTIFICATIONS["MOBILE_BACKEND"])
