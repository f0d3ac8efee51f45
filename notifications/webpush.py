"""Web Push (RFC 8030/8291/8292) to registered browsers: VAPID keys and one send.

Keys come from settings (VAPID_PRIVATE_KEY: PEM, or base64url DER/raw); the embedded default
(DEBUG) generates a key pair into var/ on first use, so a fresh machine works without setup.
Production without a key has Web Push switched off (logged once per process)."""

from __future__ import annotations

import base64
import json
import logging
import threading
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_cached: tuple[str, Vapid02 | None] | None = None


class PushGone(Exception):
    """The push service no longer knows this subscription (404/410): forget it."""


class PushFailed(Exception):
    """The push service refused or could not be reached; the subscription is kept."""


def _load() -> Vapid02 | None:
    conf = settings.NOTIFICATIONS
    private = (conf["VAPID_PRIVATE_KEY"] or "").strip()
    if private:
        if "-----BEGIN" in private:
            return Vapid02.from_pem(private.encode())
        return Vapid02.from_string(private)
    if not settings.DEBUG:
        logger.warning("VAPID_PRIVATE_KEY is not set: Web Push is off")
        return None
    path = conf["VAPID_KEY_FILE"]
    path.parent.mkdir(parents=True, exist_ok=True)
    # from_file generates and saves a key pair when the file is missing.
    return Vapid02.from_file(str(path))


def vapid() -> Vapid02 | None:
    """The server's VAPID key pair, or None when Web Push is not configured."""
    global _cached
    conf = settings.NOTIFICATIONS
    marker = f"{conf['VAPID_PRIVATE_KEY']}|{conf['VAPID_KEY_FILE']}|{settings.DEBUG}"
    if _cached is None or _cached[0] != marker:
        with _lock:
            _cached = (marker, _load())
    return _cached[1]


def public_key() -> str | None:
    """The applicationServerKey a browser subscribes with (base64url, uncompressed point)."""
    configured = (settings.NOTIFICATIONS["VAPID_PUBLIC_KEY"] or "").strip()
    if configured:
        return configured
    keys = vapid()
    if keys is None:
        return None
    raw = keys.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def send(*, endpoint: str, p256dh: str, auth: str, payload: dict[str, Any]) -> None:
    """Encrypt (aes128gcm) and POST one payload with a VAPID signature.

    Raises PushGone on 404/410 and PushFailed on any other refusal or network failure.
    """
    keys = vapid()
    if keys is None:
        raise PushFailed("Web Push is not configured (no VAPID key).")
    conf = settings.NOTIFICATIONS
    try:
        webpush(
            subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=json.dumps(payload, ensure_ascii=False),
            vapid_private_key=keys,
            vapid_claims={"sub": conf["VAPID_SUBJECT"]},
            content_encoding="aes128gcm",
            timeout=conf["WEBPUSH_TIMEOUT_SECONDS"],
            ttl=conf["WEBPUSH_TTL_SECONDS"],
        )
    except WebPushException as error:
        status = getattr(error.response, "status_code", None)
        if status in (404, 410):
            raise PushGone(str(status)) from error
        raise PushFailed(f"push service answered {status}") from error
