"""The HR sync's guards found in review: ids the database (not Python) sees as one, batch keys
that are no timestamps, admin accounts, admin deactivations racing a run, re-applying old
batches, counts taken from the rows read, and runs left 'running' by a killed process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orgsync import services
from orgsync.models import InterfaceBatch, InterfaceUser, SyncRun, User
from orgsync.sync import batch as batch_module
from orgsync.sync import hr_sync_run
from orgsync.sync import run as run_module
from tests.factories import OrgFactory, UserFactory
from tests.orgsync.hr import COMPANY, PEOPLE, people_except, replace_person, write_batch

D1, D2 = "20250301090000", "20250302090000"


def run(**kwargs):
    return hr_sync_run(lock_wait_seconds=5, **kwargs)


def person(user_id: str) -> User:
    return User.objects.get(user_id=user_id)


# --- 1. ids equal for the database's collation (accents), not for lower() ----------------------


def test_sync_skips_a_batch_id_the_database_sees_as_an_accented_manual_account(db):
    manual = UserFactory(user_id="park.jího", name="박지호 (수동)", job="외주")
    write_batch(D1)

    outcome = run()

    assert outcome.status == SyncRun.Status.APPLIED, outcome.message
    assert outcome.counts["users_created"] == len(PEOPLE) - 1
    assert outcome.counts["users_skipped"] == 1
    warning = next(p for p in outcome.problems if p["key"] == "park.jiho")
    assert warning["fatal"] is False
    assert "manual account" in warning["message"]
    manual.refresh_from_db()
    assert (manual.user_id, manual.name, manual.job, manual.is_synced) == (
        "park.jího",
        "박지호 (수동)",
        "외주",
        False,
    )
    assert InterfaceBatch.objects.get(dtkey=D1).status == InterfaceBatch.Status.APPLIED


def test_sync_matches_a_synced_account_whose_id_differs_only_by_an_accent(db):
    write_batch(D1)
    run()
    User.objects.filter(user_id="park.jiho").update(user_id="park.jího")
    pk = User.objects.get(user_id="park.jího").pk
    write_batch(D2, users=replace_person("park.jiho", job="팀장"))

    outcome = run()

    assert outcome.status == SyncRun.Status.APPLIED, outcome.message
    assert (outcome.counts["users_created"], outcome.counts["users_deactivated"]) == (0, 0)
    park = User.objects.get(pk=pk)
    assert (park.user_id, park.job, park.is_active) == ("park.jiho", "팀장", True)


def test_sync_refuses_a_batch_whose_new_org_code_the_database_already_holds_accented(db):
    OrgFactory(org_cd="DÉV", name="옛 개발")
    write_batch(D1)

    outcome = run()

    assert outcome.status == SyncRun.Status.REJECTED, outcome.message
    problem = next(p for p in outcome.problems if p["key"] == "DEV")
    assert "existing org DÉV" in problem["message"]
    assert InterfaceBatch.objects.get(dtkey=D1).status == InterfaceBatch.Status.REJECTED
    assert not User.objects.filter(is_synced=True).exists()


# --- 2. DTKEYs that are no timestamps or lie in the future -------------------------------------


def future_key(days: float) -> str:
    return (timezone.localtime() + timedelta(days=days)).strftime("%Y%m%d%H%M%S")


@pytest.mark.parametrize("dtkey", ["99999999999999", "20251399000000", "future"])
def test_sync_refuses_a_batch_key_that_is_no_real_time_or_far_ahead(db, dtkey):
    key = future_key(2) if dtkey == "future" else dtkey
    write_batch(key)
    write_batch(D1, users=people_except("park.jiho"))

    refused = run()

    assert refused.status == SyncRun.Status.REJECTED
    assert refused.dtkey == key
    assert "DTKEY" in refused.problems[0]["message"]
    assert not User.objects.exists()
    # The real batch below it is not superseded by the bogus one: the next run applies it.
    assert InterfaceBatch.objects.get(dtkey=D1).status == InterfaceBatch.Status.READY
    assert run().status == SyncRun.Status.APPLIED
    assert InterfaceBatch.objects.get(dtkey=D1).status == InterfaceBatch.Status.APPLIED


def test_sync_accepts_a_batch_key_a_few_hours_ahead_of_the_clock(db):
    write_batch(future_key(0.5))

    assert run().status == SyncRun.Status.APPLIED


def test_sync_an_applied_far_future_key_does_not_hide_later_batches(db):
    write_batch(D1)
    run()
    write_batch("99999999999999", status=InterfaceBatch.Status.APPLIED)
    write_batch(D2, users=people_except("park.jiho"))

    outcome = run()

    assert outcome.status == SyncRun.Status.APPLIED, outcome.message
    assert outcome.dtkey == D2
    assert person("park.jiho").is_active is False


# --- 3. staff and superusers are never deactivated (or reactivated) by the sync ----------------


def test_sync_never_deactivates_a_synced_staff_or_superuser_account(db):
    write_batch(D1)
    run()
    User.objects.filter(user_id="park.jiho").update(is_staff=True)
    User.objects.filter(user_id="choi.yuna").update(is_superuser=True)
    write_batch(D2, users=people_except("park.jiho", "choi.yuna", "jung.hyunwoo"))

    outcome = run()

    assert outcome.status == SyncRun.Status.APPLIED
    assert person("park.jiho").is_active is True
    assert person("choi.yuna").is_active is True
    assert person("jung.hyunwoo").is_active is False
    assert outcome.counts["users_deactivated"] == 1
    assert outcome.counts["users_skipped"] == 2
    keys = {p["key"] for p in outcome.problems if "never deactivates" in p["message"]}
    assert keys == {"park.jiho", "choi.yuna"}


def test_sync_keeps_an_inactive_synced_admin_inactive_but_updates_their_hr_fields(db):
    write_batch(D1)
    run()
    User.objects.filter(user_id="park.jiho").update(is_superuser=True, is_active=False)
    write_batch(D2, users=replace_person("park.jiho", job="CTO"))

    outcome = run()

    assert outcome.status == SyncRun.Status.APPLIED
    park = person("park.jiho")
    assert (park.job, park.is_active) == ("CTO", False)
    assert outcome.counts["users_reactivated"] == 0


# --- 4. an admin deactivation between plan and apply is not undone -----------------------------


def test_sync_does_not_undo_an_admin_deactivation_made_after_the_plan(db, monkeypatch):
    admin = UserFactory(user_id="it.admin", is_staff=True, is_superuser=True)
    write_batch(D1)
    run()
    write_batch(D2, users=replace_person("park.jiho", job="팀장"))
    park = person("park.jiho")
    build = run_module.plan_build

    def plan_then_admin_deactivates(*, loaded):
        plan = build(loaded=loaded)
        services.users_set_active(actor=admin, user_pks=[park.pk], active=False)
        return plan

    monkeypatch.setattr(run_module, "plan_build", plan_then_admin_deactivates)

    outcome = run()

    assert outcome.status == SyncRun.Status.APPLIED, outcome.message
    park.refresh_from_db()
    assert (park.is_active, park.is_synced, park.job) == (False, False, "백엔드 개발")


# --- 5. an old batch is not re-applied unless forced -------------------------------------------


@pytest.fixture
def left(db):
    """D1 applied, then D2 in which park.jiho left."""
    write_batch(D1)
    run()
    write_batch(D2, users=people_except("park.jiho"))
    run()
    assert person("park.jiho").is_active is False


def test_sync_refuses_to_reapply_a_batch_older_than_the_applied_one(left):
    outcome = run(dtkey=D1)

    assert outcome.status == SyncRun.Status.REJECTED
    assert "older than the newest applied batch" in outcome.message
    assert person("park.jiho").is_active is False
    assert InterfaceBatch.objects.get(dtkey=D1).status == InterfaceBatch.Status.APPLIED

    forced = run(dtkey=D1, force_old_batch=True)

    assert forced.status == SyncRun.Status.APPLIED
    assert person("park.jiho").is_active is True


def test_hr_sync_command_applies_an_old_batch_only_with_force_old_batch(left):
    with pytest.raises(CommandError, match="older than the newest applied batch"):
        call_command("hr_sync", "--dtkey", D1, "--no-progress", stdout=None)
    assert person("park.jiho").is_active is False

    call_command("hr_sync", "--dtkey", D1, "--force-old-batch", "--no-progress")

    assert person("park.jiho").is_active is True


# --- 7. the announced counts are compared with the rows read -----------------------------------


def test_sync_compares_the_counts_with_the_rows_it_read(db, monkeypatch):
    write_batch(D1)
    load_users = batch_module._load_users

    def row_written_meanwhile(dtkey, org_keys, problems):
        # A row written after the counts would have been taken, before the rows are read.
        InterfaceUser.objects.create(dtkey=dtkey, user_id="late.one", user_nm="늦게", org_cd="HQ")
        return load_users(dtkey, org_keys, problems)

    monkeypatch.setattr(batch_module, "_load_users", row_written_meanwhile)

    outcome = run()

    assert outcome.status == SyncRun.Status.REJECTED
    assert (
        f"announces {len(COMPANY)} org rows and {len(PEOPLE)} user rows"
        in (outcome.problems[0]["message"])
    )
    assert not User.objects.exists()


# --- 8. a run left running by a killed process -------------------------------------------------


def test_sync_marks_a_run_left_running_by_a_killed_process_as_failed(db):
    stale = SyncRun.objects.create(
        started_at=timezone.now() - timedelta(hours=3), trigger=SyncRun.Trigger.SCHEDULE
    )
    assert stale.status == SyncRun.Status.RUNNING

    outcome = run()

    stale.refresh_from_db()
    assert stale.status == SyncRun.Status.FAILED
    assert "Interrupted" in stale.message
    assert stale.finished_at is not None
    assert SyncRun.objects.get(pk=outcome.run_id).status == SyncRun.Status.NO_BATCH
