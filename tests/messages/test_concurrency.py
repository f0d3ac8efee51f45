"""Races on MariaDB itself: the per-room seq, the idempotent retry and the pair's 1:1 room hold
when several requests arrive at the same moment (select_for_update and unique keys)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from messages import services
from messages.models import Message
from rooms.models import Room

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the jobs in threads released at the same instant; each uses its own connection."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=10)
            return job()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return [f.result(timeout=60) for f in [pool.submit(run, job) for job in jobs]]


def test_message_send_concurrent_senders_get_gapless_unique_seqs(alice, bob, carol, dave):
    room, _ = services.room_create(
        actor=alice, member_ids=[bob.user_id, carol.user_id, dave.user_id]
    )
    senders = [alice, bob, carol, dave]

    def burst(user):
        return lambda: [
            services.message_send(actor=user, room_id=room.pk, msg_id=uuid.uuid4(), body=f"{n}")[0][
                "seq"
            ]
            for n in range(5)
        ]

    results = run_together([burst(user) for user in senders])

    seqs = sorted(seq for batch in results for seq in batch)
    assert seqs == list(range(2, 22))
    assert list(
        Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True)
    ) == (list(range(1, 22)))
    room.refresh_from_db()
    assert room.last_seq == 21


def test_message_send_concurrent_retries_store_once(alice, bob, carol):
    room, _ = services.room_create(actor=alice, member_ids=[bob.user_id, carol.user_id])
    msg_id = uuid.uuid4()

    def attempt():
        return services.message_send(actor=bob, room_id=room.pk, msg_id=msg_id, body="한 번")

    results = run_together([attempt for _ in range(4)])

    assert sorted(created for _payload, created in results) == [False, False, False, True]
    assert {payload["seq"] for payload, _created in results} == {2}
    assert Message.objects.filter(msg_id=msg_id).count() == 1


def test_room_open_direct_from_both_sides_at_once_gives_one_room(alice, bob):
    results = run_together(
        [
            lambda: services.room_open_direct(actor=alice, peer=bob),
            lambda: services.room_open_direct(actor=bob, peer=alice),
            lambda: services.room_create(actor=alice, member_ids=[bob.user_id]),
            lambda: services.room_create(actor=bob, member_ids=[alice.user_id]),
        ]
    )

    assert len({room.pk for room, _created in results}) == 1
    assert sum(created for _room, created in results) == 1
    assert Room.objects.count() == 1
