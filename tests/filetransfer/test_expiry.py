"""Expiry: files are deleted after their time, their messages stay (marked and pushed), and
uploads that never completed are cleaned up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from filetransfer import services, tasks
from filetransfer.models import FileLog
from messages import selectors as message_selectors
from messages import services as message_services
from tests.factories import UserFactory
from tests.filetransfer.conftest import new_id, only_log, png, stored_files
from tests.messages.helpers import assert_error


@pytest.fixture
def photo(upload, alice, group):
    return upload(alice, group.pk, [("사진.png", png())]).json()["messages"][0]


def test_expiry_deletes_the_file_and_keeps_the_message(
    api, alice, bob, carol, group, photo, media, pushes
):
    log = only_log(photo["msg_id"])
    assert len(stored_files(media)) == 2

    with pushes.committed():
        counts = services.files_expire(now=log.expires_at + timedelta(seconds=1))

    assert counts["expired"] == 1
    assert stored_files(media) == []
    log.refresh_from_db()
    assert log.state == FileLog.State.EXPIRED and log.removed_at is not None
    [(users, data)] = pushes.of("message_updated")
    assert set(users) == {alice.pk, bob.pk, carol.pk}
    assert data == {
        "msg_id": photo["msg_id"],
        "room_id": group.pk,
        "seq": photo["seq"],
        "state": "expired",
    }
    page = message_selectors.messages_page(user=bob, room_id=group.pk)
    [shown] = [m for m in page["messages"] if m["msg_id"] == photo["msg_id"]]
    assert shown["state"] == "expired" and shown["meta"]["file"]["name"] == "사진.png"
    group.refresh_from_db()
    assert group.last_msg_state == "expired"
    error = assert_error(api(bob).get(reverse("file", kwargs={"msg_id": photo["msg_id"]})), 410)
    assert error["code"] == "expired"


def test_expiry_leaves_files_that_are_not_due(photo, media, pushes):
    log = only_log(photo["msg_id"])

    with pushes.committed():
        counts = services.files_expire(now=log.expires_at - timedelta(minutes=1))

    assert counts["expired"] == 0
    assert len(stored_files(media)) == 2
    assert pushes.of("message_updated") == []


def test_expiry_of_an_original_expires_its_forwards(alice, dave, photo, media, pushes):
    other, _ = message_services.room_open_direct(actor=alice, peer=dave)
    flink, _ = services.file_forward(
        actor=alice, room_id=other.pk, msg_id=new_id(), source_msg_id=photo["msg_id"]
    )

    with pushes.committed():
        services.files_expire(now=timezone.now() + timedelta(days=31))

    assert stored_files(media) == []
    assert {d["msg_id"] for _u, d in pushes.of("message_updated")} == {
        photo["msg_id"],
        flink["msg_id"],
    }
    assert dave.pk in pushes.users_of("message_updated")
    assert FileLog.objects.filter(state="expired").count() == 2


def test_expiry_per_type_overrides(settings, upload, alice, group):
    settings.MESSENGER_FILES = {
        **settings.MESSENGER_FILES,
        "EXPIRE_DAYS": 30,
        "EXPIRE_DAYS_BY_TYPE": {"image/*": 90, "application/pdf": 0},
    }
    now = timezone.now()

    sent = upload(
        alice, group.pk, [("a.png", png()), ("b.pdf", b"%PDF-1.4\n%%EOF"), ("c.txt", b"text")]
    ).json()["messages"]

    days = {
        m["body"]: (only_log(m["msg_id"]).expires_at - now).days
        if m["meta"]["file"]["expires"]
        else None
        for m in sent
    }
    assert days == {"a.png": 90, "b.pdf": None, "c.txt": 30}


def test_expiry_job_deletes_uploads_that_never_completed(alice, group, media):
    """A process that died between writing the bytes and the message leaves a pending row."""
    todo = [
        services._inspect(
            index=0, upload=SimpleUploadedFile("a.png", png()), msg_id=new_id(), now=timezone.now()
        )
    ]
    services._reserve(actor=alice, room_pk=group.pk, todo=todo)
    services._write(todo)
    assert len(stored_files(media)) == 2

    soon = services.files_expire(now=timezone.now() + timedelta(minutes=30))
    later = services.files_expire(now=timezone.now() + timedelta(hours=2))

    assert soon["abandoned"] == 0 and later["abandoned"] == 1
    assert stored_files(media) == []
    log = FileLog.objects.get()
    assert log.state == FileLog.State.DELETED and log.message_id is None


def test_expiry_job_keeps_an_upload_that_completes_while_it_runs(monkeypatch, alice, group, media):
    """A slow upload turns STORED between the job's select of pending rows and its delete: the
    row is not changed and its bytes stay."""
    todo = [
        services._inspect(
            index=0, upload=SimpleUploadedFile("a.png", png()), msg_id=new_id(), now=timezone.now()
        )
    ]
    services._reserve(actor=alice, room_pk=group.pk, todo=todo)
    services._write(todo)
    real_filter = FileLog.objects.filter

    def upload_completes_after_the_select(*args, **kwargs):
        if "created_at__lt" not in kwargs:
            return real_filter(*args, **kwargs)
        selected = list(real_filter(*args, **kwargs).values_list("pk", flat=True))
        assert selected, "the pending upload should have been selected"
        real_filter(pk__in=selected).update(state=FileLog.State.STORED)
        return real_filter(pk__in=selected)

    monkeypatch.setattr(FileLog.objects, "filter", upload_completes_after_the_select)

    counts = services.files_expire(now=timezone.now() + timedelta(hours=2))

    assert counts["abandoned"] == 0
    assert FileLog.objects.get().state == FileLog.State.STORED
    assert len(stored_files(media)) == 2


def test_expire_now_from_admin(client, alice, photo, media):
    admin = UserFactory(user_id="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    log = only_log(photo["msg_id"])

    response = client.post(
        reverse("admin:filetransfer_filelog_changelist"),
        {"action": "expire_now", "_selected_action": [log.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "1 stored file(s) expired" in response.content.decode()
    log.refresh_from_db()
    assert log.state == FileLog.State.EXPIRED


def test_file_log_admin_lists_size_room_sender_and_expiry(client, photo):
    admin = UserFactory(user_id="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)

    page = client.get(reverse("admin:filetransfer_filelog_changelist")).content.decode()

    assert "사진.png" in page and "alice" in page
    assert "expire_now" in page


def test_expiry_task_and_its_beat_schedule(photo, media, django_capture_on_commit_callbacks):
    FileLog.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.files_expire.apply().get()

    assert result == {"expired": 1, "abandoned": 0, "finished": 0, "previews": 0}
    assert stored_files(media) == []
    schedule = PeriodicTask.objects.get(task="filetransfer.files_expire")
    assert schedule.enabled and schedule.interval.every == 1 and schedule.interval.period == "hours"


def test_expiry_works_through_a_backlog_in_batches(upload, alice, group, media, pushes):
    upload(alice, group.pk, [("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c")])

    with pushes.committed():
        counts = services.files_expire(now=timezone.now() + timedelta(days=31), limit=2)

    assert counts["expired"] == 3
    assert stored_files(media) == []


def test_expiry_finishes_a_deletion_that_a_killed_run_left(
    photo, media, django_capture_on_commit_callbacks
):
    log = only_log(photo["msg_id"])
    # The run commits the expiry and dies before its after-commit deletion runs.
    with django_capture_on_commit_callbacks(execute=False):
        services.files_expire(now=log.expires_at + timedelta(seconds=1))
    log.refresh_from_db()
    assert log.state == FileLog.State.EXPIRED and log.removed_at is None
    assert len(stored_files(media)) == 2

    with django_capture_on_commit_callbacks(execute=True):
        counts = services.files_expire(now=log.expires_at + timedelta(seconds=2))

    assert counts["finished"] == 1 and counts["expired"] == 0
    assert stored_files(media) == []
    log.refresh_from_db()
    assert log.removed_at is not None
