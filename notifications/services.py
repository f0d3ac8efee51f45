"""Alerting people about new messages: decide per receiver (notifications.rules), fold a
burst in one room into one alert, and deliver it by how the person is connected.

The flow, run by Celery after the message commits (notifications.tasks):
1. `message_notify`: for each present member but the sender, run the rule; a receiver to be
   alerted joins the (user, room) batch, and the first of a burst opens a window.
2. `batch_flush`, BATCH_WINDOW_SECONDS later: if the newest message is still unread and the
   room is not in view, send one alert with the count: a `notify` push to connected clients
   (web and mobile), else Web Push to registered browsers and the mobile push backend.
"""

from __future__ import annotations

import logging
from base64 import urlsafe_b64decode
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from messages.models import Message
from messenger import netguard, realtime
from messenger.errors import InvalidInput
from notifications import selectors, webpush
from notifications.mobile import mobile_backend
from notifications.models import WebPushSubscription
from notifications.rules import SYSTEM_TYPES, Incoming, content, decide
from orgsync.models import User
from rooms import selectors as room_selectors
from rooms.models import RoomMember

logger = logging.getLogger(__name__)

NOTIFY = "notify"


# --- the rule's input ----------------------------------------------------------------------


def incoming_for(*, message: Message, member: RoomMember) -> Incoming:
    """The rule's view of a message, with the room named as this member names it."""
    room = message.room
    sender = message.sender
    file_meta = (message.meta or {}).get("file") or {}
    return Incoming(
        type=message.type,
        body=message.body,
        sender_pk=message.sender_id,
        sender_name=sender.name if sender else "",
        room_kind=room.kind,
        room_name=member.nickname or room.name,
        state=message.state,
        file_name=file_meta.get("name", ""),
    )


# --- batching: one alert per (user, room) window ------------------------------------------


def _batch_keys(user_pk: int, room_id: int) -> tuple[str, str]:
    return f"notify:batch:{user_pk}:{room_id}", f"notify:last:{user_pk}:{room_id}"


def _batch_ttl() -> int:
    # Outlives a late worker; a window whose flush never ran closes on its own.
    return int(settings.NOTIFICATIONS["BATCH_WINDOW_SECONDS"]) + 300


def batch_add(*, user_pk: int, room_id: int, message_pk: int, count: int = 1) -> bool:
    """Add `count` messages, the newest `message_pk`, to the user's pending alert for the room;
    True when they opened the window (the caller then schedules `batch_flush`)."""
    count_key, last_key = _batch_keys(user_pk, room_id)
    ttl = _batch_ttl()
    cache.set(last_key, message_pk, ttl)
    if cache.add(count_key, count, ttl):
        return True
    try:
        cache.incr(count_key, count)
    except ValueError:
        # The window was flushed between add and incr: these messages open the next one.
        return bool(cache.add(count_key, count, ttl))
    return False


def batch_flush(*, user_pk: int, room_id: int) -> dict[str, Any] | None:
    """Close the user's window for the room and send one alert for it, unless they read the
    newest message or looked at the room meanwhile; return the alert's data (None: none)."""
    count_key, last_key = _batch_keys(user_pk, room_id)
    # Not atomic: a message folded in between the read and the delete adds nothing to this
    # alert's count. It is still counted as unread in the room; an alert is a hint, not a record.
    found = cache.get_many([count_key, last_key])
    cache.delete_many([count_key, last_key])
    count, message_pk = found.get(count_key), found.get(last_key)
    if not count or message_pk is None:
        return None
    message = Message.objects.select_related("room", "sender").filter(pk=message_pk).first()
    member = (
        room_selectors.present_members(room_id)
        .select_related("user")
        .filter(user_id=user_pk, user__is_active=True)
        .first()
    )
    if message is None or member is None or member.last_read_seq >= message.seq:
        return None
    if selectors.room_focused_user_pks(user_pks=[user_pk], room_id=room_id):
        return None
    title, body = content(member.user, incoming_for(message=message, member=member), count=count)
    data = {
        "room_id": room_id,
        "msg_id": str(message.msg_id),
        "seq": message.seq,
        "title": title,
        "body": body,
        "count": int(count),
    }
    deliver(user=member.user, data=data)
    return data


# --- the two steps ------------------------------------------------------------------------


def message_notify(*, message_pk: int) -> list[tuple[int, int]]:
    """`messages_notify` for one message."""
    return messages_notify(message_pks=[message_pk])


def messages_notify(*, message_pks: list[int]) -> list[tuple[int, int]]:
    """Run the rule for every present member of each new message's room but its sender; return
    the (user_pk, room_id) windows these messages opened, to be flushed after the window.

    Messages stored together (a burst in one room) are taken together: the room's members
    and who looks at the room are read once, and each receiver's alert is counted up by all
    of the burst's messages that alert them at once."""
    messages = (
        Message.objects.select_related("room", "sender")
        .filter(pk__in=message_pks, sender__isnull=False)
        .exclude(type__in=SYSTEM_TYPES)
        .order_by("room_id", "seq")
    )
    now = timezone.now()
    opened: list[tuple[int, int]] = []
    for room_id, in_room in groupby(messages, key=lambda m: m.room_id):
        burst = list(in_room)
        members = list(
            room_selectors.present_members(room_id)
            .filter(user__is_active=True)
            .select_related("user")
        )
        focused = selectors.room_focused_user_pks(
            user_pks=[m.user_id for m in members], room_id=room_id
        )
        for member in members:
            alerting = [
                message
                for message in burst
                if decide(
                    member.user,
                    member,
                    incoming_for(message=message, member=member),
                    now,
                    member.user_id in focused,
                ).notify
            ]
            if alerting and batch_add(
                user_pk=member.user_id,
                room_id=room_id,
                message_pk=alerting[-1].pk,
                count=len(alerting),
            ):
                opened.append((member.user_id, room_id))
    return opened


def deliver(*, user: User, data: dict[str, Any]) -> None:
    """Send one alert by how the user is connected: a `notify` push to their live clients,
    or, with none open, Web Push to their browsers and the mobile push backend."""
    if selectors.connected_kinds(user_pk=user.pk):
        realtime.publish_to_users([user.pk], NOTIFY, data)
        return
    webpush_send_all(user=user, data=data)
    mobile_backend().send(user_pk=user.pk, notification=data)


def webpush_send_all(*, user: User, data: dict[str, Any]) -> int:
    """Web Push an alert to each of the user's browsers; forget the ones the push service no
    longer knows (404/410). Returns how many were sent."""
    payload = data | {"tag": f"room-{data['room_id']}"}
    sent = 0
    for subscription in selectors.push_subscriptions_for(user=user):
        # Checked again at each send: the endpoint's name may resolve elsewhere by now.
        if not endpoint_allowed(subscription.endpoint):
            logger.warning(
                "push subscription %s points at a private address; skipped", subscription.pk
            )
            continue
        try:
            webpush.send(
                endpoint=subscription.endpoint,
                p256dh=subscription.p256dh,
                auth=subscription.auth,
                payload=payload,
            )
        except webpush.PushGone:
            logger.info("push subscription %s gone; removed", subscription.pk)
            subscription.delete()
            continue
        except webpush.PushFailed as error:
            logger.warning("web push to subscription %s failed: %s", subscription.pk, error)
            continue
        WebPushSubscription.objects.filter(pk=subscription.pk).update(last_sent_at=timezone.now())
        sent += 1
    return sent


# --- subscriptions ------------------------------------------------------------------------


def _b64url_len(value: Any, field: str, length: int) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidInput(f"keys.{field} is required.")
    try:
        raw = urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        raise InvalidInput(f"keys.{field} must be base64url.") from None
    if len(raw) != length:
        raise InvalidInput(f"keys.{field} must be {length} bytes.")
    return value


def _clean_endpoint(endpoint: Any) -> str:
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 700:
        raise InvalidInput("endpoint must be a URL of at most 700 characters.")
    if endpoint_allowed(endpoint):
        return endpoint
    raise InvalidInput("endpoint must be an https URL of a public push service.")


def endpoint_allowed(endpoint: str) -> bool:
    """An https URL whose host resolves to public addresses only (the server POSTs to it, so a
    private one would let a client aim it at the internal network); in debug also
    http://127.0.0.1 for local tests."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return False
    if settings.DEBUG and parts.scheme == "http" and parts.hostname == "127.0.0.1":
        return True
    return (
        parts.scheme == "https"
        and bool(parts.hostname)
        and netguard.host_is_public(parts.hostname or "", port or 443)
    )


@transaction.atomic
def push_subscription_add(
    *, user: User, endpoint: Any, p256dh: Any, auth: Any
) -> WebPushSubscription:
    """Register (or refresh) a browser's push subscription for the user; an endpoint that
    belonged to someone else (another login in the same browser) moves to this user."""
    endpoint = _clean_endpoint(endpoint)
    key = _b64url_len(p256dh, "p256dh", 65)
    secret = _b64url_len(auth, "auth", 16)
    subscription, _created = WebPushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": user, "p256dh": key, "auth": secret}
    )
    return subscription


def push_subscription_remove(*, user: User, endpoint: Any) -> None:
    """Forget one of the user's browser subscriptions (unknown endpoints are ignored)."""
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidInput("endpoint is required.")
    WebPushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
