"""Celery tasks of notifications: they take ids, call a service, and are queued on commit.

The batching window relies on `countdown`. With CELERY_TASK_ALWAYS_EAGER (the embedded
default without Redis) a countdown cannot delay anything: the flush runs at once, so every
message alerts on its own and the mobile "still unread a second later" check happens
immediately. Run a worker (production) for batching and the delay."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from notifications import services


@shared_task(name="notifications.message_notify", ignore_result=True)
def message_notify(message_pks: list[int] | int) -> int:
    """Run the rule for new messages (those stored together, or one: a task queued by an
    earlier release) and schedule the flush of each window they opened."""
    if isinstance(message_pks, int):
        message_pks = [message_pks]
    opened = services.messages_notify(message_pks=message_pks)
    window = settings.NOTIFICATIONS["BATCH_WINDOW_SECONDS"]
    for user_pk, room_id in opened:
        batch_flush.apply_async((user_pk, room_id), countdown=window)
    return len(opened)


@shared_task(name="notifications.batch_flush", ignore_result=True, soft_time_limit=60)
def batch_flush(user_pk: int, room_id: int) -> bool:
    """Send the one alert of a (user, room) window, if still due."""
    return services.batch_flush(user_pk=user_pk, room_id=room_id) is not None
