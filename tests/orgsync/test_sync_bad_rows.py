"""Batches with bad rows: all or nothing by default; with HR_SYNC_SKIP_BAD_ROWS (or
`hr_sync --skip-bad-rows`, or admin's "apply the good rows") the good rows are applied, the bad
ones reported row by row, and nobody in a bad row is deactivated as missing."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from orgsync.models import InterfaceBatch, InterfaceOrg, InterfaceUser, Org, SyncRun, User
from orgsync.sync import hr_sync_run
from tests.factories import OrgFactory
from tests.orgsync.hr import COMPANY, PEOPLE, replace_person, write_batch

D1, D2 = "20250301090000", "20250302090000"
JOINER = ("oh.seojun", "오서준", "APP", "앱 개발", "010-8888-9999")


@pytest.fixture
def synced(db):
    """The company of tests/orgsync/hr.py, applied."""
    write_batch(D1)
    assert hr_sync_run().status == SyncRun.Status.APPLIED
    return {u.user_id: u for u in User.objects.filter(is_synced=True)}


@pytest.fixture
def skip_bad_rows(settings):
    settings.HR_SYNC = {**settings.HR_SYNC, "SKIP_BAD_ROWS": True}


def user_row_id(user_id: str) -> int:
    return InterfaceUser.objects.get(dtkey=D2, user_id=user_id).pk


def org_row_id(org_cd: str) -> int:
    return InterfaceOrg.objects.get(dtkey=D2, org_cd=org_cd).pk


def person(user_id: str) -> User:
    return User.objects.select_related("org").get(user_id=user_id)


def with_bad_name(user_id: str) -> list:
    """PEOPLE plus a joiner, park.jiho's job changed, and user_id's name 51 characters long."""
    rows = replace_person("park.jiho", job="플랫폼 리드")
    rows = [(r[0], "가" * 51, *r[2:]) if r[0] == user_id else r for r in rows]
    return [*rows, JOINER]


def test_sync_default_refuses_a_batch_with_one_bad_row_whole(synced):
    write_batch(D2, users=with_bad_name("choi.yuna"))

    outcome = hr_sync_run()

    assert outcome.status == SyncRun.Status.REJECTED
    assert person("park.jiho").job == "백엔드 개발"
    assert not User.objects.filter(user_id="oh.seojun").exists()
    assert InterfaceBatch.objects.get(dtkey=D2).status == InterfaceBatch.Status.REJECTED


def test_sync_skip_bad_rows_applies_the_good_rows_and_reports_the_bad_one(synced, skip_bad_rows):
    write_batch(D2, users=[p for p in with_bad_name("choi.yuna") if p[0] != "jung.hyunwoo"])

    outcome = hr_sync_run()

    assert outcome.status == SyncRun.Status.PARTIAL, outcome.message
    assert outcome.ok
    assert person("park.jiho").job == "플랫폼 리드"
    assert person("oh.seojun").is_active
    # Left: deactivated as usual.
    assert not person("jung.hyunwoo").is_active
    # The bad row's person is in the batch: kept as they were, not deactivated.
    choi = person("choi.yuna")
    assert (choi.name, choi.is_active) == ("최유나", True)
    assert outcome.counts["users_deactivated"] == 1
    (bad,) = outcome.problems
    assert (bad["table"], bad["row"], bad["key"]) == ("user", user_row_id("choi.yuna"), "choi.yuna")
    assert bad["skipped"] is True
    assert "USER_NM is 51 characters; at most 50 fit" in bad["message"]
    run = SyncRun.objects.get(pk=outcome.run_id)
    assert (run.status, run.problem_count, run.users_created) == ("partial", 1, 1)
    assert run.problems == outcome.problems
    assert InterfaceBatch.objects.get(dtkey=D2).status == InterfaceBatch.Status.APPLIED


def test_sync_skip_bad_rows_people_of_bad_rows_do_not_count_as_gone(
    synced, skip_bad_rows, settings
):
    """The mass-deactivation guard counts only real departures: with the limit at 1, three bad
    rows would have looked like three people leaving."""
    settings.HR_SYNC = {**settings.HR_SYNC, "MASS_DEACTIVATE_MIN": 1, "MAX_DEACTIVATE_PERCENT": 0}
    bad = {"lee.seoyeon", "park.jiho", "choi.yuna"}
    write_batch(D2, users=[(p[0], "", *p[2:]) if p[0] in bad else p for p in PEOPLE])

    outcome = hr_sync_run()

    assert outcome.status == SyncRun.Status.PARTIAL, outcome.message
    assert outcome.counts["users_deactivated"] == 0
    assert all(person(u).is_active for u in bad)
    assert sorted(p["key"] for p in outcome.problems) == sorted(bad)
    assert all("USER_NM is empty" in p["message"] for p in outcome.problems)


def test_sync_skip_bad_rows_keeps_the_mass_deactivation_guard(synced, skip_bad_rows, settings):
    settings.HR_SYNC = {**settings.HR_SYNC, "MASS_DEACTIVATE_MIN": 1, "MAX_DEACTIVATE_PERCENT": 0}
    rows = [p for p in PEOPLE if p[0] not in ("park.jiho", "choi.yuna")]
    rows = [(r[0], "", *r[2:]) if r[0] == "lee.seoyeon" else r for r in rows]
    write_batch(D2, users=rows)

    outcome = hr_sync_run()

    assert outcome.status == SyncRun.Status.REJECTED
    assert "would deactivate 2 of 5" in outcome.problems[0]["message"]
    assert any(p["key"] == "lee.seoyeon" and p["skipped"] for p in outcome.problems)
    assert all(person(u).is_active for u in ("park.jiho", "choi.yuna", "lee.seoyeon"))
    assert InterfaceBatch.objects.get(dtkey=D2).status == InterfaceBatch.Status.REJECTED


def test_sync_skip_bad_rows_a_bad_org_row_keeps_its_branch_and_people_and_says_so(
    synced, skip_bad_rows
):
    """DEV's row is bad: DEV, the orgs under it (PLT, APP) and their people are kept as they
    were, each reported on its own row; the rest of the batch is applied."""
    orgs = [("DEV", "", "0100", 2) if o[0] == "DEV" else o for o in COMPANY]
    orgs = [("SAL1", "국내영업1팀", *o[2:]) if o[0] == "SAL1" else o for o in orgs]
    users = replace_person("park.jiho", org_cd="APP")
    users = [("kim.minjun", "김민준", "HQ", "회장", "02-555-0100"), *users[1:]]
    write_batch(D2, orgs=orgs, users=users)

    outcome = hr_sync_run()

    assert outcome.status == SyncRun.Status.PARTIAL, outcome.message
    assert Org.objects.get(org_cd="SAL1").name == "국내영업1팀"
    assert person("kim.minjun").job == "회장"
    for code in ("DEV", "PLT", "APP"):
        org = Org.objects.get(org_cd=code)
        assert org.is_active, code
    assert Org.objects.get(org_cd="DEV").name == "개발본부"
    park = person("park.jiho")
    assert (park.org.org_cd, park.is_active) == ("PLT", True)  # not moved: its target is out
    assert all(person(u).is_active for u in ("lee.seoyeon", "choi.yuna"))
    assert outcome.counts["users_deactivated"] == outcome.counts["orgs_deactivated"] == 0
    by_row = {(p["table"], p["row"]): p for p in outcome.problems}
    assert "ORG_NM is empty" in by_row["org", org_row_id("DEV")]["message"]
    assert "parent org DEV" in by_row["org", org_row_id("PLT")]["message"]
    assert "parent org DEV" in by_row["org", org_row_id("APP")]["message"]
    for user_id in ("lee.seoyeon", "park.jiho", "choi.yuna"):
        message = by_row["user", user_row_id(user_id)]["message"]
        assert "is not applied, so this person is kept as they are" in message
    assert len(by_row) == 6


def test_sync_skip_bad_rows_holds_departures_when_a_bad_row_has_no_usable_id(synced, skip_bad_rows):
    """A row whose USER_ID is broken may be anyone who is "missing": nobody is deactivated."""
    rows = [p for p in PEOPLE if p[0] != "choi.yuna"]
    rows = [("choi yuna", "최유나", "APP"), *rows]
    write_batch(D2, users=rows)

    outcome = hr_sync_run()

    assert outcome.status == SyncRun.Status.PARTIAL, outcome.message
    assert person("choi.yuna").is_active
    assert outcome.counts["users_deactivated"] == 0
    messages = [p["message"] for p in outcome.problems]
    assert any("USER_ID may contain only" in m for m in messages)
    assert any("1 synced person(s) not in the batch are left active" in m for m in messages)


def test_sync_skip_bad_rows_an_org_code_the_database_holds_is_a_bad_row(db, skip_bad_rows):
    OrgFactory(org_cd="SÁL1", name="옛 영업")
    write_batch(D1)

    outcome = hr_sync_run()

    assert outcome.status == SyncRun.Status.PARTIAL, outcome.message
    keys = {(p["table"], p["key"]) for p in outcome.problems}
    assert keys == {("org", "SAL1"), ("user", "jung.hyunwoo")}
    assert not User.objects.filter(user_id="jung.hyunwoo").exists()
    assert User.objects.filter(is_synced=True).count() == len(PEOPLE) - 1


def test_sync_skip_bad_rows_still_refuses_a_batch_with_wrong_counts(synced, skip_bad_rows):
    write_batch(D2, users=with_bad_name("choi.yuna"), user_count=99)

    outcome = hr_sync_run()

    assert outcome.status == SyncRun.Status.REJECTED
    assert "announces" in outcome.problems[0]["message"]
    assert person("park.jiho").job == "백엔드 개발"


def test_sync_skip_bad_rows_refuses_a_batch_whose_org_places_are_unknown(synced, skip_bad_rows):
    """Without an org's SEQ nobody can tell which org the ones after it hang under."""
    orgs = [("DEV", "개발본부", "", 2) if o[0] == "DEV" else o for o in COMPANY]
    write_batch(D2, orgs=orgs)

    outcome = hr_sync_run()

    assert outcome.status == SyncRun.Status.REJECTED
    assert any("no usable SEQ or LVL" in p["message"] for p in outcome.problems)


# --- the command -------------------------------------------------------------------------------


def test_hr_sync_command_skip_bad_rows_lists_the_bad_rows(synced):
    write_batch(D2, users=with_bad_name("choi.yuna"))
    out = io.StringIO()

    call_command("hr_sync", "--skip-bad-rows", "--no-progress", stdout=out)

    text = out.getvalue()
    assert f"HR sync, batch {D2}: partial" in text
    assert "applied without its 1 bad row(s)" in text
    row = user_row_id("choi.yuna")
    assert f"user row {row} (choi.yuna): row not applied: USER_NM is 51 characters" in text
    assert person("park.jiho").job == "플랫폼 리드"


def test_hr_sync_command_follows_the_setting_and_all_or_nothing_overrides_it(synced, skip_bad_rows):
    write_batch(D2, users=with_bad_name("choi.yuna"))

    with pytest.raises(CommandError, match="refused"):
        call_command("hr_sync", "--all-or-nothing", "--no-progress", stdout=io.StringIO())
    InterfaceBatch.objects.filter(dtkey=D2).update(status=InterfaceBatch.Status.READY)
    out = io.StringIO()
    call_command("hr_sync", "--no-progress", stdout=out)

    assert "partial" in out.getvalue()
    assert person("oh.seojun").is_active


def test_hr_sync_command_dry_run_with_skip_bad_rows_writes_nothing(synced):
    write_batch(D2, users=with_bad_name("choi.yuna"))
    out = io.StringIO()

    call_command("hr_sync", "--dry-run", "--skip-bad-rows", stdout=out)

    assert "1 bad row(s) would be left out" in out.getvalue()
    assert "row not applied" in out.getvalue()
    assert not User.objects.filter(user_id="oh.seojun").exists()
    assert SyncRun.objects.count() == 1
