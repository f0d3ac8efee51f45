"""Two HR sync runs never overlap: across threads (each with its own database session) and
across processes (the management command), on MariaDB's named lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from orgsync.models import InterfaceBatch, SyncRun, User
from orgsync.sync import hr_sync_run
from orgsync.sync.lock import sync_lock, sync_lock_held
from tests.orgsync.hr import PEOPLE, write_batch

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
D1 = "20250301090000"


class LockHolder:
    """Holds the sync lock on its own thread and database session until released."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold)
        self.thread.start()
        assert self.held.wait(10)

    def _hold(self) -> None:
        try:
            with sync_lock(wait_seconds=5) as acquired:
                assert acquired
                self.held.set()
                self.release.wait(30)
        finally:
            connection.close()

    def stop(self) -> None:
        self.release.set()
        self.thread.join(10)


@pytest.fixture
def holder():
    holders: list[LockHolder] = []

    def hold() -> LockHolder:
        holders.append(LockHolder())
        return holders[-1]

    yield hold
    for h in holders:
        h.stop()


def test_sync_run_is_refused_as_busy_while_another_holds_the_lock(holder):
    write_batch(D1)
    other = holder()
    assert sync_lock_held()

    outcome = hr_sync_run(lock_wait_seconds=0)

    assert outcome.status == SyncRun.Status.BUSY
    assert "holds the lock" in outcome.message
    assert not User.objects.exists()
    assert InterfaceBatch.objects.get(dtkey=D1).status == InterfaceBatch.Status.READY
    assert SyncRun.objects.get(pk=outcome.run_id).status == SyncRun.Status.BUSY

    other.stop()
    assert not sync_lock_held()
    assert hr_sync_run(lock_wait_seconds=0).status == SyncRun.Status.APPLIED
    assert User.objects.count() == len(PEOPLE)


def test_sync_run_waits_for_the_lock_when_asked_to(holder):
    write_batch(D1)
    other = holder()
    threading.Timer(0.5, other.stop).start()

    outcome = hr_sync_run(lock_wait_seconds=10)

    assert outcome.status == SyncRun.Status.APPLIED


def test_sync_two_runs_at_once_apply_the_batch_once():
    crowd = [(f"p{n:04d}", f"사람{n}", "PLT") for n in range(1500)]
    write_batch(D1, users=crowd)
    barrier = threading.Barrier(2)

    def attempt():
        try:
            barrier.wait(10)
            return hr_sync_run(lock_wait_seconds=60)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = [f.result(120) for f in [pool.submit(attempt) for _ in range(2)]]

    statuses = sorted(o.status for o in outcomes)
    assert statuses == [SyncRun.Status.APPLIED, SyncRun.Status.NO_BATCH]
    applied = next(o for o in outcomes if o.status == SyncRun.Status.APPLIED)
    assert applied.counts["users_created"] == 1500
    assert User.objects.count() == 1500
    assert User.objects.values("user_id").distinct().count() == 1500
    # The second run waited for the first to finish, then found its batch applied.
    done = SyncRun.objects.get(status=SyncRun.Status.APPLIED)
    waited = SyncRun.objects.get(status=SyncRun.Status.NO_BATCH)
    assert waited.finished_at >= done.finished_at


def _command(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MYSQL_DATABASE=settings.DATABASES["default"]["NAME"])
    return subprocess.run(
        [sys.executable, "manage.py", "hr_sync", "--no-progress", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sync_command_in_another_process_is_refused_while_a_run_holds_the_lock(holder):
    if connection.vendor != "mysql":
        pytest.skip("the subprocess reaches the test database through MYSQL_DATABASE")
    write_batch(D1)
    other = holder()

    busy = _command("--wait", "0")

    assert busy.returncode != 0
    assert "busy" in busy.stdout
    assert "Another HR sync run holds the lock" in busy.stderr + busy.stdout
    assert not User.objects.exists()

    other.stop()
    done = _command()

    assert done.returncode == 0, done.stderr
    assert "applied" in done.stdout
    assert User.objects.count() == len(PEOPLE)


def test_sync_file_lock_of_the_embedded_default_keeps_a_second_holder_out(settings, tmp_path):
    from orgsync.sync.lock import _file_lock

    settings.HR_SYNC = {**settings.HR_SYNC, "LOCK_FILE": tmp_path / "hr-sync.lock"}
    held, release, results = threading.Event(), threading.Event(), []

    def hold() -> None:
        with _file_lock(0) as acquired:
            results.append(acquired)
            held.set()
            release.wait(10)

    holder_thread = threading.Thread(target=hold)
    holder_thread.start()
    assert held.wait(5)
    with _file_lock(0.3) as second:
        results.append(second)
    release.set()
    holder_thread.join(5)
    with _file_lock(0) as third:
        results.append(third)

    assert results == [True, False, True]
