"""Rows written per message, by room size.

Sends messages with the same service the socket's `send_msg` calls (messages.services.
message_send), in this process, against the benchmark database, and counts every INSERT,
UPDATE and DELETE statement with the rows it affected (Django's execute_wrapper; MariaDB
reports matched rows for an UPDATE), by table: the send's transaction and its on-commit
work. The notification task a send queues is not sent to the broker: the rule it runs
(notifications.services.message_notify) is run here for the first few messages and its
writes are counted apart. The per-person alert flush runs once per batching window, not per
message, and is left out. MariaDB's session Handler_write/update/delete deltas are given as a
cross-check (they also count internal temporary tables). The same number of messages is
then sent as the socket stores a queued burst (message_send_many, in batches of the
gateway's SEND_BATCH_MAX), for its rows and time per message."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from typing import Any

from bench.common import ensure_users, make_group

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b[^`]*?`(\w+)`", re.IGNORECASE)


class WriteCounter:
    """execute_wrapper counting written rows by (verb, table)."""

    def __init__(self) -> None:
        self.rows: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        match = WRITE.match(sql)
        if match:
            key = f"{match.group(1).upper()} {match.group(2)}"
            self.statements[key] += 1
            rowcount = context["cursor"].rowcount
            self.rows[key] += max(rowcount, 0)
        return result


def _handler_counts(connection) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS WHERE Variable_name LIKE 'Handler\\_%'")
        return {name: int(value) for name, value in cursor.fetchall()}


@contextmanager
def _notify_tasks_kept(queued: list[int]):
    """Record the message pks of queued notification tasks instead of queueing them (a task
    takes the pks of the messages stored together)."""
    from notifications.tasks import message_notify

    message_notify.delay = queued.extend
    try:
        yield
    finally:
        del message_notify.delay


def run_rows(*, size: int, messages: int, notify_messages: int = 3, progress) -> dict[str, Any]:
    from django.db import connection

    from messages import services
    from messenger.gateway.consumer import SEND_BATCH_MAX

    users = ensure_users([f"bench{i:05d}" for i in range(size)])
    sender = users[0]
    room_id = make_group(sender, users[1:])
    progress(f"room of {size} members ready")
    queued: list[int] = []
    with _notify_tasks_kept(queued):
        for _ in range(3):  # warm caches and the first-query costs; not counted
            services.message_send(
                actor=sender, room_id=room_id, msg_id=str(uuid.uuid4()), body="warm"
            )
        counter = WriteCounter()
        before = _handler_counts(connection)
        started = time.monotonic()
        with connection.execute_wrapper(counter):
            for index in range(messages):
                services.message_send(
                    actor=sender,
                    room_id=room_id,
                    msg_id=str(uuid.uuid4()),
                    body=f"rows {size}:{index}",
                )
        seconds = time.monotonic() - started
        after = _handler_counts(connection)
        # The same number of messages as the socket stores a queued burst: in batches of
        # SEND_BATCH_MAX through message_send_many (docs/benchmarks.md, "Send batches").
        batched = WriteCounter()
        started = time.monotonic()
        with connection.execute_wrapper(batched):
            for first in range(0, messages, SEND_BATCH_MAX):
                count = min(SEND_BATCH_MAX, messages - first)
                sends = [
                    {"msg_id": str(uuid.uuid4()), "body": f"rows {size}:batch {first + i}"}
                    for i in range(count)
                ]
                results = services.message_send_many(actor=sender, room_id=room_id, sends=sends)
                assert all(isinstance(r, dict) for r in results), results
        batched_seconds = time.monotonic() - started
    from notifications import services as notify_services

    notified = queued[3 : 3 + notify_messages]
    notify_counter = WriteCounter()
    with connection.execute_wrapper(notify_counter):
        for message_pk in notified:
            notify_services.message_notify(message_pk=message_pk)
    handler = {
        name: (after.get(name, 0) - before.get(name, 0)) / messages
        for name in ("Handler_write", "Handler_update", "Handler_delete")
    }
    total_rows = sum(counter.rows.values())
    return {
        "members": size,
        "messages": messages,
        "rows_per_message": total_rows / messages,
        "statements_per_message": sum(counter.statements.values()) / messages,
        "by_table": {key: value / messages for key, value in sorted(counter.rows.items())},
        "handler_writes_per_message": handler["Handler_write"],
        "handler_updates_per_message": handler["Handler_update"],
        "handler_deletes_per_message": handler["Handler_delete"],
        "ms_per_send": seconds * 1000 / messages,
        "batched_rows_per_message": sum(batched.rows.values()) / messages,
        "batched_ms_per_message": batched_seconds * 1000 / messages,
        "notify_messages": len(notified),
        "notify_rows_per_message": (
            sum(notify_counter.rows.values()) / len(notified) if notified else None
        ),
        "notify_by_table": {
            key: value / len(notified) for key, value in sorted(notify_counter.rows.items())
        },
    }
