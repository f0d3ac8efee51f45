"""The management commands: hr_sync (progress and summary), hr_feed (a realistic company and
the next day's changes), bench_sync (on its own throwaway database)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from orgsync.models import InterfaceBatch, InterfaceOrg, InterfaceUser, Org, SyncRun, User
from orgsync.testfeed import feed_write_first, feed_write_next
from tests.orgsync.hr import PEOPLE, people_except, write_batch

ROOT = Path(__file__).resolve().parents[2]
D1, D2 = "20250301090000", "20250302090000"


def command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- hr_sync -----------------------------------------------------------------------------------


def test_hr_sync_command_applies_and_prints_a_summary(db):
    write_batch(D1)

    out, err = command("hr_sync")

    assert f"HR sync, batch {D1}: applied (run " in out
    assert "people: created 5, reactivated 0, moved 0" in out
    assert "+ person kim.minjun created" in out
    assert "people created: 5" in err  # the progress, one line per phase off a terminal
    assert User.objects.filter(is_synced=True).count() == len(PEOPLE)


def test_hr_sync_command_dry_run_shows_the_diff_and_writes_nothing(db):
    write_batch(D1)
    command("hr_sync")
    write_batch(D2, users=people_except("park.jiho"))

    out, _ = command("hr_sync", "--dry-run")

    assert "dry run" in out
    assert "nothing was written" in out
    assert "- person park.jiho deactivated" in out
    assert User.objects.get(user_id="park.jiho").is_active
    assert SyncRun.objects.count() == 1


def test_hr_sync_command_fails_and_lists_the_problems_of_a_bad_batch(db):
    write_batch(D1, users=[("kim", "", "HQ"), ("kim", "김", "NOPE")])
    out = io.StringIO()

    with pytest.raises(CommandError, match="refused"):
        call_command("hr_sync", "--no-progress", stdout=out)

    text = out.getvalue()
    assert "rejected" in text
    assert "USER_NM is empty" in text
    assert "ORG_CD NOPE is not an org of this batch" in text
    assert "USER_ID kim appears 2 times" in text


def test_hr_sync_command_with_an_unknown_batch_key_fails(db):
    with pytest.raises(CommandError, match="no batch 20990101000000"):
        command("hr_sync", "--dtkey", "20990101000000")


def test_hr_sync_command_without_a_new_batch_succeeds_quietly(db):
    out, _ = command("hr_sync", "--no-progress")
    assert "no_batch" in out


# --- hr_feed -----------------------------------------------------------------------------------


def test_hr_feed_writes_a_complete_realistic_batch(db):
    out, _ = command("hr_feed", "--people", "300", "--orgs", "40", "--levels", "5", "--force")

    batch = InterfaceBatch.objects.get()
    assert f"Batch {batch.dtkey}: 40 orgs, 300 people, status READY." in out
    assert InterfaceOrg.objects.filter(dtkey=batch.dtkey).count() == 40
    assert InterfaceUser.objects.filter(dtkey=batch.dtkey).count() == 300
    assert set(InterfaceOrg.objects.values_list("lvl", flat=True)) == {0, 1, 2, 3, 4}
    names = list(InterfaceUser.objects.values_list("user_nm", flat=True))
    assert all(len(n) == 3 and "가" <= n[0] <= "힣" for n in names)


def test_hr_feed_batches_sync_cleanly_and_the_next_one_changes_things(db):
    first = feed_write_first(people=400, orgs=50, levels=4)
    command("hr_sync", "--no-progress")

    # Every person sits in an org whose parent chain ends at the company, one level per step.
    for org in Org.objects.select_related("parent"):
        if org.parent is not None:
            assert org.level == org.parent.level + 1
    assert User.objects.filter(is_synced=True, is_active=True).count() == 400
    assert not User.objects.filter(org__isnull=True).exists()

    feed_write_next()
    command("hr_sync", "--no-progress")

    run = SyncRun.objects.order_by("-id").first()
    assert run.status == "applied"
    assert run.dtkey > first.dtkey
    assert run.users_moved > 0
    assert run.users_created > 0
    assert run.users_deactivated > 0
    assert run.orgs_renamed > 0
    assert run.orgs_moved >= 1
    assert run.orgs_deactivated == 1
    active = User.objects.filter(is_active=True, is_synced=True)
    assert not active.filter(org__is_active=False).exists()


def test_hr_feed_half_written_batch_is_not_applied(db):
    command("hr_feed", "--people", "50", "--orgs", "10", "--writing", "--force")

    out, _ = command("hr_sync", "--no-progress")

    assert "no_batch" in out
    assert not User.objects.exists()


def test_hr_feed_next_without_a_first_batch_fails(db):
    with pytest.raises(CommandError, match="no batch to follow"):
        command("hr_feed", "--next", "--force")


def test_hr_feed_refuses_to_run_in_production_without_force(db, settings):
    settings.DEBUG = False  # as in production (and under the test runner)
    with pytest.raises(CommandError, match="--force"):
        command("hr_feed", "--people", "10", "--orgs", "5")


# --- bench_sync --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_bench_sync_prints_the_timings_on_a_throwaway_database():
    if connection.vendor != "mysql":
        pytest.skip("the subprocess reaches MariaDB through MYSQL_DATABASE")
    name = connection.settings_dict["NAME"]
    env = dict(os.environ, MYSQL_DATABASE=name)
    done = subprocess.run(
        [sys.executable, "manage.py", "bench_sync", "--people", "300", "--orgs", "30"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert "300 people in 30 orgs over 5 levels" in done.stdout
    for label in (
        "first sync: create everything",
        "re-run of the same batch: nothing to change",
        "next day's batch",
        "scheduled run with no new batch",
    ):
        assert label in done.stdout
    assert f"{name}_bench is dropped" in done.stdout
    with connection.cursor() as cursor:
        cursor.execute("SHOW DATABASES LIKE %s", [f"{name}_bench"])
        assert cursor.fetchone() is None
    # The real (here: test) database was not touched.
    assert not User.objects.exists()
