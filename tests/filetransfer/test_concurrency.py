"""Concurrent uploads on MariaDB itself: one person's parallel uploads (the browser sends one
request per file) and sends in the same and in other rooms neither deadlock nor slip past the
quota."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from filetransfer import services
from filetransfer.errors import QuotaExceeded
from filetransfer.models import FileLog
from messages import services as message_services
from messages.models import Message
from tests.filetransfer.conftest import png

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the jobs in threads released at the same instant; each uses its own connection.
    Returns each job's result, or the exception it raised."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=10)
            return job()
        except Exception as error:  # the test looks at what each job raised
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return [f.result(timeout=120) for f in [pool.submit(run, job) for job in jobs]]


def _upload(user, room_id: int, name: str, content: bytes) -> Callable[[], Any]:
    return lambda: services.files_upload(
        actor=user,
        room_id=room_id,
        files=[SimpleUploadedFile(name, content)],
        msg_ids=[uuid.uuid4()],
    )


def _talk(user, room_id: int) -> Callable[[], Any]:
    return lambda: message_services.message_send(
        actor=user, room_id=room_id, msg_id=uuid.uuid4(), body="동시에"
    )


def test_parallel_uploads_and_sends_of_one_person_all_land(alice, bob, carol, media):
    group, _ = message_services.room_create(actor=alice, member_ids=["bob", "carol"])
    direct, _ = message_services.room_open_direct(actor=alice, peer=bob)
    jobs = []
    for round_ in range(3):
        jobs += [
            _upload(alice, group.pk, f"a{round_}.png", png()),
            _upload(alice, group.pk, f"b{round_}.txt", b"text " * 100),
            _upload(alice, direct.pk, f"c{round_}.txt", b"more " * 100),
            _talk(alice, group.pk),
            _talk(alice, direct.pk),
        ]

    results = run_together(jobs)

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert FileLog.objects.filter(state="stored").count() == 9
    group_seqs = list(
        Message.objects.filter(room=group).order_by("seq").values_list("seq", flat=True)
    )
    assert group_seqs == list(range(1, len(group_seqs) + 1))


def test_parallel_uploads_cannot_slip_past_the_quota(settings, alice, bob, media):
    settings.MESSENGER_FILES = {**settings.MESSENGER_FILES, "QUOTA_BYTES": 10_000}
    direct, _ = message_services.room_open_direct(actor=alice, peer=bob)

    results = run_together(
        [_upload(alice, direct.pk, f"{i}.bin", b"\x01" * 3_000) for i in range(6)]
    )

    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(refused) == 3, results
    assert sum(FileLog.objects.filter(state="stored").values_list("size", flat=True)) == 9_000


def test_forwards_racing_an_expiry_never_outlive_the_file(alice, bob, carol, dave, media):
    group, _ = message_services.room_create(actor=alice, member_ids=["bob", "carol", "dave"])
    rooms = [message_services.room_open_direct(actor=alice, peer=p)[0] for p in (bob, carol, dave)]
    [photo], _ = services.files_upload(
        actor=alice,
        room_id=group.pk,
        files=[SimpleUploadedFile("a.png", png())],
        msg_ids=[uuid.uuid4()],
    )
    original = FileLog.objects.get(message__msg_id=photo["msg_id"])

    def forward(room) -> Callable[[], Any]:
        return lambda: services.file_forward(
            actor=alice, room_id=room.pk, msg_id=uuid.uuid4(), source_msg_id=photo["msg_id"]
        )

    results = run_together(
        [
            *(forward(room) for room in rooms),
            lambda: services.file_logs_expire_now(file_log_ids=[original.pk]),
            *(forward(room) for room in rooms),
        ]
    )

    unexpected = [
        r for r in results if isinstance(r, Exception) and getattr(r, "code", "") != "expired"
    ]
    assert unexpected == []
    # Whatever order they ran in, no forward is left pointing at the deleted bytes.
    assert list(FileLog.objects.exclude(state="expired").values_list("pk", flat=True)) == []
    assert not (media / original.storage_name).exists()
