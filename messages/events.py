"""Payloads of the message-related pushes, built in one place for REST, socket and pushes."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from messages.models import Message

REPLY_PREVIEW_CHARS = 100


def _visible_body(message: Message) -> str:
    return "" if message.state == Message.State.CANCELLED else message.body


def _sender(message: Message) -> tuple[str | None, str | None]:
    """(user_id, name) of the sender; system lines of the server have none."""
    sender = message.sender if message.sender_id else None
    return (sender.user_id, sender.name) if sender is not None else (None, None)


def reply_preview(message: Message | None) -> dict[str, Any] | None:
    if message is None:
        return None
    sender, sender_name = _sender(message)
    return {
        "msg_id": str(message.msg_id),
        "seq": message.seq,
        "sender": sender,
        "sender_name": sender_name,
        "type": message.type,
        "body": _visible_body(message)[:REPLY_PREVIEW_CHARS],
        "state": message.state,
    }


def message_payload(message: Message, *, unread: int) -> dict[str, Any]:
    """A stored message as clients see it (ack of send_msg, `message` push, history pages)."""
    cancelled = message.state == Message.State.CANCELLED
    sender, sender_name = _sender(message)
    return {
        "room_id": message.room_id,
        "seq": message.seq,
        "msg_id": str(message.msg_id),
        "sender": sender,
        "sender_name": sender_name,
        "type": message.type,
        "body": _visible_body(message),
        "meta": {} if cancelled else message.meta,
        "reply_to": reply_preview(message.reply_to) if message.reply_to_id else None,
        "state": message.state,
        "created": message.created_at,
        "unread": unread,
    }


def unread_for(seq: int, sorted_watermarks: list[int]) -> int:
    """How many members have not read up to `seq`: the KakaoTalk "1" beside a bubble."""
    return bisect_left(sorted_watermarks, seq)


def message_updated_payload(message: Message, *, with_meta: bool = False) -> dict[str, Any]:
    """The `message_updated` push; `meta` is added when it is what changed (a link preview)."""
    payload: dict[str, Any] = {
        "msg_id": str(message.msg_id),
        "room_id": message.room_id,
        "seq": message.seq,
        "state": message.state,
    }
    if with_meta:
        payload["meta"] = {} if message.state == Message.State.CANCELLED else message.meta
    return payload
