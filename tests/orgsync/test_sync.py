"""The HR sync on MariaDB: create, update, move, rename, deactivate, re-run, dry run, bad and
half-written batches, manual accounts, letter case, and the record every run leaves."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from messages import services as message_services
from messages.models import Message
from orgsync.models import ActionLog, InterfaceBatch, InterfaceUser, Org, SyncRun, User
from orgsync.sync import DRY_RUN, hr_sync_run
from rooms.models import RoomMember
from tests.factories import OrgFactory, UserFactory
from tests.orgsync.hr import COMPANY, PEOPLE, people_except, replace_person, write_batch

D1, D2, D3 = "20250301090000", "20250302090000", "20250303090000"


def org(code: str) -> Org:
    return Org.objects.select_related("parent").get(org_cd=code)


def person(user_id: str) -> User:
    return User.objects.select_related("org").get(user_id=user_id)


def run(**kwargs):
    return hr_sync_run(lock_wait_seconds=5, **kwargs)


@pytest.fixture
def synced(db):
    """The company of tests.orgsync.hr applied once (batch D1)."""
    write_batch(D1)
    outcome = run()
    assert outcome.status == "applied", outcome.message
    return outcome


# --- create ------------------------------------------------------------------------------------


def test_sync_first_batch_builds_the_tree_from_seq_and_lvl(synced):
    assert org("HQ").parent is None
    assert org("DEV").parent.org_cd == "HQ"
    assert org("PLT").parent.org_cd == "DEV"
    assert org("APP").parent.org_cd == "DEV"
    assert org("SAL").parent.org_cd == "HQ"
    assert org("SAL1").parent.org_cd == "SAL"
    assert (org("PLT").level, org("PLT").seq, org("PLT").name) == (3, "0110", "플랫폼팀")
    assert list(Org.objects.values_list("org_cd", flat=True)) == [c[0] for c in COMPANY]


def test_sync_first_batch_creates_synced_people_in_their_orgs(synced):
    lee = person("lee.seoyeon")
    assert (lee.name, lee.org.org_cd, lee.job, lee.tel_no) == (
        "이서연",
        "PLT",
        "플랫폼 팀장",
        "010-1234-5678",
    )
    assert lee.is_synced and lee.is_active
    assert lee.created_by == "hr-sync"
    assert User.objects.filter(is_synced=True).count() == len(PEOPLE)
    assert synced.counts["users_created"] == len(PEOPLE)
    assert synced.counts["orgs_created"] == len(COMPANY)


def test_sync_new_people_cannot_log_in_until_a_password_is_set(synced):
    lee = person("lee.seoyeon")
    assert not lee.has_usable_password()
    client = APIClient()
    for guess in ("lee.seoyeon", "", "password"):
        response = client.post(
            "/api/auth/token", {"user_id": "lee.seoyeon", "password": guess}, format="json"
        )
        assert response.status_code in (400, 401)
    passwords = set(User.objects.filter(is_synced=True).values_list("password", flat=True))
    assert len(passwords) == len(PEOPLE)  # no shared value, nothing guessable

    lee.set_password("Set-by-admin-123")
    lee.save()
    response = client.post(
        "/api/auth/token", {"user_id": "lee.seoyeon", "password": "Set-by-admin-123"}, format="json"
    )
    assert response.status_code == 200


def test_sync_records_the_run_the_batch_and_the_action_log(synced):
    record = SyncRun.objects.get(pk=synced.run_id)
    assert record.status == SyncRun.Status.APPLIED
    assert record.dtkey == D1
    assert record.trigger == SyncRun.Trigger.COMMAND
    assert record.users_created == len(PEOPLE)
    assert record.orgs_created == len(COMPANY)
    assert record.finished_at >= record.started_at
    assert record.sample
    batch = InterfaceBatch.objects.get(dtkey=D1)
    assert batch.status == InterfaceBatch.Status.APPLIED
    assert batch.applied_at is not None
    log = ActionLog.objects.get(work=ActionLog.Work.SYNC)
    assert log.state == "applied"
    assert log.device == "command"
    assert f"run {record.pk}" in log.detail


# --- update, move, rename, org moves -----------------------------------------------------------


def test_sync_updates_job_phone_and_absence(synced):
    rows = [
        ("lee.seoyeon", "이서연", "PLT", "플랫폼 본부장", "010-9999-0000", "dayoff", "0301~0305")
        if p[0] == "lee.seoyeon"
        else p
        for p in PEOPLE
    ]
    write_batch(D2, users=rows)

    outcome = run()

    lee = person("lee.seoyeon")
    assert (lee.job, lee.tel_no, lee.absence_code, lee.absence_text) == (
        "플랫폼 본부장",
        "010-9999-0000",
        "dayoff",
        "0301~0305",
    )
    assert lee.modified_by == "hr-sync"
    assert outcome.counts["users_updated"] == 1
    assert sum(outcome.counts.values()) == 1


def test_sync_moves_a_person_to_another_org(synced):
    write_batch(D2, users=replace_person("park.jiho", org_cd="SAL1", job="영업 지원"))

    outcome = run()

    park = person("park.jiho")
    assert park.org.org_cd == "SAL1"
    assert park.job == "영업 지원"
    assert outcome.counts["users_moved"] == 1
    assert outcome.counts["users_updated"] == 0
    moved = [s for s in outcome.sample if s["action"] == "moved"]
    assert moved[0]["key"] == "park.jiho"
    assert moved[0]["changes"]["org"] == ["PLT", "SAL1"]


def test_sync_renames_an_org_and_everyone_sees_the_new_name(synced):
    orgs = [(c, "플랫폼개발팀" if c == "PLT" else n, s, lvl) for c, n, s, lvl in COMPANY]
    write_batch(D2, orgs=orgs)

    outcome = run()

    assert org("PLT").name == "플랫폼개발팀"
    assert person("lee.seoyeon").org.name == "플랫폼개발팀"
    assert outcome.counts["orgs_renamed"] == 1
    assert sum(outcome.counts.values()) == 1


def test_sync_moves_an_org_with_its_people_under_another_parent(synced):
    # APP moves from under DEV to under SAL: its SEQ places it after SAL1.
    orgs = [row for row in COMPANY if row[0] != "APP"] + [("APP", "앱개발팀", "0220", 3)]
    write_batch(D2, orgs=orgs)

    outcome = run()

    assert org("APP").parent.org_cd == "SAL"
    assert person("choi.yuna").org.org_cd == "APP"
    assert outcome.counts["orgs_moved"] == 1


def test_sync_accepts_an_explicit_parent_code(db):
    orgs = [
        ("HQ", "본사", "0001", 0),
        ("B", "B팀", "0002", 1, "HQ"),
        ("A", "A팀", "0003", 1, "HQ"),
        ("A1", "A1파트", "0004", 2, "A"),
        ("B1", "B1파트", "0005", 2, "B"),  # after A1 in SEQ order, but under B
    ]
    write_batch(D1, orgs=orgs, users=[("u1", "사람", "B1")])

    assert run().status == "applied"

    assert org("B1").parent.org_cd == "B"
    assert org("A1").parent.org_cd == "A"


def test_sync_trims_spaces_around_values(db):
    write_batch(
        D1,
        orgs=[(" HQ ", " 본사 ", " 0001", 0)],
        users=[{"user_id": " kim ", "user_nm": " 김민준 ", "org_cd": "HQ ", "job": " 대리 "}],
    )

    assert run().status == "applied"

    kim = person("kim")
    assert (kim.name, kim.job, kim.org.org_cd, kim.org.name) == ("김민준", "대리", "HQ", "본사")


# --- deactivate, reactivate --------------------------------------------------------------------


def test_sync_deactivates_people_missing_from_the_batch_and_keeps_their_history(synced):
    park, lee = person("park.jiho"), person("lee.seoyeon")
    room, _ = message_services.room_create(actor=lee, member_ids=[park.user_id, "choi.yuna"])
    message_services.message_send(
        actor=park, room_id=room.pk, msg_id=uuid.uuid4(), body="안녕하세요"
    )
    write_batch(D2, users=people_except("park.jiho"))

    outcome = run()

    park.refresh_from_db()
    assert park.is_active is False
    assert park.is_synced is True
    assert outcome.counts["users_deactivated"] == 1
    assert outcome.deactivated_pks == [park.pk]
    assert Message.objects.filter(sender=park, body="안녕하세요").exists()
    assert RoomMember.objects.filter(room=room, user=park).exists()
    gone = [s for s in outcome.sample if s["action"] == "deactivated"]
    assert gone == [{"kind": "user", "action": "deactivated", "key": "park.jiho", "changes": None}]


def test_sync_deactivated_person_is_refused_by_the_api_at_once(synced, api):
    park = person("park.jiho")
    client = api(park)
    assert client.get("/api/me").status_code == 200
    write_batch(D2, users=people_except("park.jiho"))

    run()

    assert client.get("/api/me").status_code == 401
    assert client.get("/api/rooms").status_code == 401


def test_sync_closes_the_deactivated_persons_sockets_after_commit(
    synced, django_capture_on_commit_callbacks, monkeypatch
):
    from orgsync import services

    closed: list[tuple[int, int]] = []
    original = services.close_user_sessions

    def spy(user_id: int, code: int) -> None:
        closed.append((user_id, code))
        original(user_id, code)

    monkeypatch.setattr(services, "close_user_sessions", spy)
    write_batch(D2, users=people_except("park.jiho", "choi.yuna"))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run()
        assert closed == []  # nothing before the commit
    for callback in callbacks:
        callback()

    assert sorted(closed) == sorted(
        [(person("park.jiho").pk, 4003), (person("choi.yuna").pk, 4003)]
    )


def test_sync_deactivates_orgs_missing_from_the_batch_never_deletes_them(synced):
    orgs = [row for row in COMPANY if row[0] != "SAL1"]
    users = [p for p in PEOPLE if p[2] != "SAL1"]
    write_batch(D2, orgs=orgs, users=users)

    outcome = run()

    assert org("SAL1").is_active is False
    assert Org.objects.count() == len(COMPANY)
    assert outcome.counts["orgs_deactivated"] == 1
    assert person("jung.hyunwoo").is_active is False


def test_sync_reactivates_a_person_who_comes_back(synced):
    write_batch(D2, users=people_except("park.jiho"))
    run()
    write_batch(D3)

    outcome = run()

    park = person("park.jiho")
    assert park.is_active is True
    assert outcome.counts["users_reactivated"] == 1


# --- re-runs and dry runs ----------------------------------------------------------------------


def test_sync_rerun_of_the_same_batch_changes_nothing(synced):
    before = {
        u.user_id: (u.modified_at, u.password, u.org_id, u.name)
        for u in User.objects.filter(is_synced=True)
    }
    orgs_before = list(Org.objects.values_list("org_cd", "name", "parent_id", "updated_at"))

    outcome = run(dtkey=D1)

    assert outcome.status == "applied"
    assert not any(outcome.counts.values()), outcome.counts
    assert "nothing had changed" in outcome.message
    after = {
        u.user_id: (u.modified_at, u.password, u.org_id, u.name)
        for u in User.objects.filter(is_synced=True)
    }
    assert after == before
    assert list(Org.objects.values_list("org_cd", "name", "parent_id", "updated_at")) == (
        orgs_before
    )


def test_sync_scheduled_rerun_without_a_new_batch_does_nothing(synced):
    outcome = run(trigger=SyncRun.Trigger.SCHEDULE)

    assert outcome.status == SyncRun.Status.NO_BATCH
    assert SyncRun.objects.get(pk=outcome.run_id).status == SyncRun.Status.NO_BATCH
    # Idle runs are not action-log noise.
    assert ActionLog.objects.filter(work=ActionLog.Work.SYNC).count() == 1


def test_sync_dry_run_prints_the_diff_and_writes_nothing(synced):
    rows = replace_person("park.jiho", org_cd="SAL1")
    rows = [r for r in rows if r[0] != "choi.yuna"] + [("new.one", "신입", "APP", "사원", "")]
    write_batch(D2, users=rows)
    runs_before = SyncRun.objects.count()

    with CaptureQueriesContext(connection) as queries:
        outcome = run(dry_run=True)

    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "SELECT GET_LOCK"))
    ]
    assert writes == []
    assert outcome.status == DRY_RUN
    assert outcome.run_id is None
    assert (
        outcome.counts["users_moved"],
        outcome.counts["users_created"],
        outcome.counts["users_deactivated"],
    ) == (1, 1, 1)
    assert {s["key"] for s in outcome.sample} == {"park.jiho", "new.one", "choi.yuna"}
    assert person("park.jiho").org.org_cd == "PLT"
    assert person("choi.yuna").is_active
    assert not User.objects.filter(user_id="new.one").exists()
    assert InterfaceBatch.objects.get(dtkey=D2).status == InterfaceBatch.Status.READY
    assert SyncRun.objects.count() == runs_before


# --- which batch -------------------------------------------------------------------------------


def test_sync_ignores_a_half_written_batch(synced):
    # HR has written D2's rows but not yet set READY.
    write_batch(D2, users=people_except("park.jiho"), status=InterfaceBatch.Status.WRITING)

    outcome = run()

    assert outcome.status == SyncRun.Status.NO_BATCH
    assert person("park.jiho").is_active
    assert InterfaceBatch.objects.get(dtkey=D2).status == InterfaceBatch.Status.WRITING
    refused = run(dtkey=D2)
    assert refused.status == SyncRun.Status.NO_BATCH
    assert "still being written" in refused.message
    assert person("park.jiho").is_active


def test_sync_applies_the_ready_batch_under_a_newer_half_written_one(db):
    write_batch(D1)
    write_batch(D2, users=people_except("park.jiho"), status=InterfaceBatch.Status.WRITING)

    outcome = run()

    assert outcome.dtkey == D1
    assert person("park.jiho").is_active


def test_sync_refuses_a_ready_batch_whose_rows_are_not_all_there(synced):
    # READY was set while rows were still missing: the counts give it away.
    write_batch(D2, users=people_except("park.jiho"), user_count=len(PEOPLE))

    outcome = run()

    assert outcome.status == SyncRun.Status.REJECTED
    assert "announces 6 org rows and 5 user rows" in outcome.problems[0]["message"]
    assert person("park.jiho").is_active
    assert InterfaceBatch.objects.get(dtkey=D2).status == InterfaceBatch.Status.REJECTED


def test_sync_takes_the_newest_ready_batch_and_supersedes_older_ones(db):
    write_batch(D1, users=people_except("park.jiho"))
    write_batch(D2)

    outcome = run()

    assert outcome.dtkey == D2
    assert person("park.jiho").is_active
    assert InterfaceBatch.objects.get(dtkey=D1).status == InterfaceBatch.Status.SUPERSEDED


def test_sync_never_applies_a_ready_batch_older_than_the_applied_one(db):
    write_batch(D2)
    run()
    write_batch(D1, users=people_except("park.jiho"))

    outcome = run()

    assert outcome.status == SyncRun.Status.NO_BATCH
    assert person("park.jiho").is_active
    assert InterfaceBatch.objects.get(dtkey=D1).status == InterfaceBatch.Status.SUPERSEDED


# --- bad batches -------------------------------------------------------------------------------

GOOD_ORGS = [("HQ", "본사", "0001", 0), ("T1", "1팀", "0002", 1)]


def user(user_id: str, name: str = "사람", org_cd: str = "T1", **more: str) -> dict[str, str]:
    return {"user_id": user_id, "user_nm": name, "org_cd": org_cd, **more}


BAD_BATCHES = {
    "duplicate user id": (
        GOOD_ORGS,
        [user("kim"), user("lee"), user("kim")],
        ["USER_ID kim appears 2 times in this batch"],
    ),
    "user ids differing only in case": (
        GOOD_ORGS,
        [user("kim"), user("KIM")],
        ["letter case does not make ids different"],
    ),
    "unknown org code": (
        GOOD_ORGS,
        [user("kim", org_cd="NOPE")],
        ["ORG_CD NOPE is not an org of this batch"],
    ),
    "empty org code": (GOOD_ORGS, [user("kim", org_cd="")], ["ORG_CD is empty"]),
    "empty person name": (GOOD_ORGS, [user("kim", name="  ")], ["USER_NM is empty"]),
    "empty org name": (
        [("HQ", "", "0001", 0), ("T1", "1팀", "0002", 1)],
        [user("kim")],
        ["ORG_NM is empty"],
    ),
    "oversize person name": (
        GOOD_ORGS,
        [user("kim", name="가" * 51)],
        ["USER_NM is 51 characters; at most 50 fit"],
    ),
    "oversize phone": (
        GOOD_ORGS,
        [user("kim", tel_no="0" * 21)],
        ["TEL_NO is 21 characters; at most 20 fit"],
    ),
    "oversize org code": (
        [("HQ", "본사", "0001", 0), ("T" * 21, "팀", "0002", 1)],
        [user("kim", org_cd="T" * 21)],
        ["ORG_CD is 21 characters; at most 20 fit"],
    ),
    "oversize seq": (
        [("HQ", "본사", "0001", 0), ("T1", "1팀", "000000002", 1)],
        [user("kim")],
        ["SEQ is 9 characters; at most 8 fit"],
    ),
    "user id with a space": (GOOD_ORGS, [user("kim minjun")], ["USER_ID may contain only"]),
    "user id in hangul": (GOOD_ORGS, [user("김민준")], ["USER_ID may contain only"]),
    "control character in a name": (GOOD_ORGS, [user("kim", name="김\x00민준")], ["control"]),
    "duplicate org code": (
        [("HQ", "본사", "0001", 0), ("T1", "1팀", "0002", 1), ("t1", "2팀", "0003", 1)],
        [user("kim")],
        ["ORG_CD T1 appears 2 times", "ORG_CD t1 appears 2 times"],
    ),
    "duplicate seq": (
        [("HQ", "본사", "0001", 0), ("T1", "1팀", "0002", 1), ("T2", "2팀", "0002", 1)],
        [user("kim")],
        ["SEQ 0002 appears 2 times"],
    ),
    "skipped level": (
        [("HQ", "본사", "0001", 0), ("T1", "1팀", "0002", 2)],
        [user("kim")],
        ["no org of LVL 1 comes before it"],
    ),
    "cycle": (
        [
            ("HQ", "본사", "0001", 0),
            ("A", "A팀", "0002", 1, "B"),
            ("B", "B팀", "0003", 1, "A"),
            ("T1", "1팀", "0004", 1),
        ],
        [user("kim")],
        ["PARENT_CD makes a cycle: A -> B -> A"],
    ),
    "org its own parent": (
        [("HQ", "본사", "0001", 0), ("T1", "1팀", "0002", 1, "T1")],
        [user("kim")],
        ["PARENT_CD makes a cycle: T1 -> T1"],
    ),
    "unknown parent code": (
        [("HQ", "본사", "0001", 0), ("T1", "1팀", "0002", 1, "ZZ")],
        [user("kim")],
        ["PARENT_CD ZZ is not an org of this batch"],
    ),
    "level not under its parent": (
        [("HQ", "본사", "0001", 0), ("T1", "1팀", "0002", 3, "HQ")],
        [user("kim")],
        ["LVL 3 does not fit under PARENT_CD HQ"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_BATCHES), ids=str)
def test_sync_refuses_a_bad_batch_row_by_row_and_applies_nothing(synced, case):
    orgs, users, expected = BAD_BATCHES[case]
    write_batch(D2, orgs=orgs, users=users)
    before = (
        list(Org.objects.values_list("org_cd", "name", "is_active", "parent_id")),
        list(User.objects.values_list("user_id", "name", "is_active", "org_id")),
    )

    outcome = run()

    assert outcome.status == SyncRun.Status.REJECTED
    messages = [p["message"] for p in outcome.problems]
    for text in expected:
        assert any(text in m for m in messages), (text, messages)
    assert all(p["table"] in ("org", "user") and p["row"] for p in outcome.problems)
    if case == "cycle":
        assert sorted(p["key"] for p in outcome.problems) == ["A", "B"]
    after = (
        list(Org.objects.values_list("org_cd", "name", "is_active", "parent_id")),
        list(User.objects.values_list("user_id", "name", "is_active", "org_id")),
    )
    assert after == before
    assert InterfaceBatch.objects.get(dtkey=D2).status == InterfaceBatch.Status.REJECTED
    record = SyncRun.objects.get(pk=outcome.run_id)
    assert record.status == SyncRun.Status.REJECTED
    assert record.problem_count == len(outcome.problems)
    assert record.users_created == 0


def test_sync_reports_every_bad_row_with_its_row_id_and_key(synced):
    batch = write_batch(
        D2,
        orgs=GOOD_ORGS,
        users=[user("ok"), user("", name="빈아이디"), user("lee", name=""), user("x", org_cd="Q")],
    )
    rows = dict(InterfaceUser.objects.filter(dtkey=batch.dtkey).values_list("user_id", "id"))

    outcome = run()

    found = {(p["row"], p["key"], p["message"]) for p in outcome.problems}
    assert found == {
        (rows[""], "", "USER_ID is empty."),
        (rows["lee"], "lee", "USER_NM is empty."),
        (rows["x"], "x", "ORG_CD Q is not an org of this batch."),
    }


def test_sync_refuses_an_empty_batch(synced):
    write_batch(D2, users=[])

    outcome = run()

    assert outcome.status == SyncRun.Status.REJECTED
    assert "would deactivate everyone" in outcome.problems[0]["message"]
    assert User.objects.filter(is_active=True).count() == len(PEOPLE)


def test_sync_refuses_a_batch_key_that_is_not_a_timestamp(db):
    write_batch("2025-03-01")

    outcome = run()

    assert outcome.status == SyncRun.Status.REJECTED
    assert "DTKEY must be 14 digits" in outcome.problems[0]["message"]
    assert not User.objects.exists()


def test_sync_refuses_mass_deactivation_unless_told(db, settings):
    settings.HR_SYNC = {**settings.HR_SYNC, "MAX_DEACTIVATE_PERCENT": 20, "MASS_DEACTIVATE_MIN": 2}
    crowd = [(f"p{n}", f"사람{n}", "PLT") for n in range(10)]
    write_batch(D1, users=crowd)
    run()
    write_batch(D2, users=crowd[:6])  # 4 of 10 leave: more than 20%

    refused = run()

    assert refused.status == SyncRun.Status.REJECTED
    assert "would deactivate 4 of 10 active synced people" in refused.problems[0]["message"]
    assert User.objects.filter(is_active=True).count() == 10

    forced = run(dtkey=D2, allow_mass_deactivation=True)

    assert forced.status == SyncRun.Status.APPLIED
    assert User.objects.filter(is_active=True).count() == 6


# --- manual accounts and letter case -----------------------------------------------------------


def test_sync_leaves_manual_accounts_alone(synced):
    manual = UserFactory(user_id="contractor", name="외주 직원", org=org("PLT"), job="외주")
    write_batch(D2, users=people_except("park.jiho"))

    run()

    manual.refresh_from_db()
    assert manual.is_active
    assert manual.is_synced is False
    assert (manual.name, manual.job, manual.org.org_cd) == ("외주 직원", "외주", "PLT")


def test_sync_skips_a_batch_row_that_matches_a_manual_account(db):
    admin = UserFactory(user_id="Admin", name="관리자", org=OrgFactory(), job="IT")
    write_batch(D1, users=[*PEOPLE, ("admin", "인사 데이터", "HQ", "사원")])

    outcome = run()

    assert outcome.status == SyncRun.Status.APPLIED
    assert outcome.counts["users_skipped"] == 1
    warning = next(p for p in outcome.problems if p["key"] == "admin")
    assert warning["fatal"] is False
    assert "manual account" in warning["message"]
    admin.refresh_from_db()
    assert (admin.user_id, admin.name, admin.job, admin.is_synced) == (
        "Admin",
        "관리자",
        "IT",
        False,
    )
    assert admin.check_password("Test-pass-1234")


def test_sync_matches_user_ids_ignoring_case_and_keeps_hrs_spelling(synced):
    rows = [("Lee.Seoyeon", *p[1:]) if p[0] == "lee.seoyeon" else p for p in PEOPLE]
    write_batch(D2, users=rows)
    pk = person("lee.seoyeon").pk

    outcome = run()

    assert outcome.counts["users_updated"] == 1
    assert outcome.counts["users_created"] == 0
    assert outcome.counts["users_deactivated"] == 0
    assert User.objects.get(pk=pk).user_id == "Lee.Seoyeon"


def test_sync_warns_about_an_org_deactivated_under_manual_people(synced):
    UserFactory(user_id="contractor", org=org("SAL1"))
    orgs = [row for row in COMPANY if row[0] != "SAL1"]
    write_batch(D2, orgs=orgs, users=[p for p in PEOPLE if p[2] != "SAL1"])

    outcome = run()

    warning = next(p for p in outcome.problems if p["key"] == "SAL1")
    assert "1 manual account(s) still belong to it" in warning["message"]


# --- failures, records -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sync_failure_rolls_the_whole_batch_back():
    if connection.vendor != "mysql":
        pytest.skip("uses a MariaDB trigger to make the database refuse a row")
    write_batch(D1)
    run()
    write_batch(
        D2,
        orgs=[*COMPANY, ("NEW", "신설팀", "0300", 2)],
        users=[*replace_person("park.jiho", org_cd="APP"), ("boom", "BOOM", "NEW")],
    )
    table = User._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TRIGGER hr_sync_refuse BEFORE INSERT ON `{table}` FOR EACH ROW "
            "IF NEW.name = 'BOOM' THEN SIGNAL SQLSTATE '45000' "
            "SET MESSAGE_TEXT = 'refused by test trigger'; END IF"
        )
    try:
        outcome = run()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER hr_sync_refuse")

    assert outcome.status == SyncRun.Status.FAILED
    assert "refused by test trigger" in outcome.message
    assert outcome.dtkey == D2
    # The orgs written before the failing insert are gone with it; the person did not move.
    assert not Org.objects.filter(org_cd="NEW").exists()
    assert person("park.jiho").org.org_cd == "PLT"
    assert InterfaceBatch.objects.get(dtkey=D2).status == InterfaceBatch.Status.READY
    record = SyncRun.objects.get(pk=outcome.run_id)
    assert record.status == SyncRun.Status.FAILED
    assert record.dtkey == D2
    assert record.users_created == 0

    assert run().status == SyncRun.Status.APPLIED  # the trigger is gone: the batch applies
    assert person("park.jiho").org.org_cd == "APP"
    assert User.objects.filter(user_id="boom").exists()


def test_sync_idle_runs_are_pruned_after_some_days(db, settings):
    old = SyncRun.objects.create(
        started_at=timezone.now() - timedelta(days=settings.HR_SYNC["IDLE_RUN_DAYS"] + 1),
        trigger="schedule",
        status=SyncRun.Status.NO_BATCH,
    )
    kept = SyncRun.objects.create(
        started_at=timezone.now() - timedelta(days=settings.HR_SYNC["IDLE_RUN_DAYS"] + 1),
        trigger="schedule",
        status=SyncRun.Status.REJECTED,
    )

    outcome = run(trigger="schedule")

    assert outcome.status == SyncRun.Status.NO_BATCH
    assert not SyncRun.objects.filter(pk=old.pk).exists()
    assert SyncRun.objects.filter(pk=kept.pk).exists()
    assert SyncRun.objects.filter(pk=outcome.run_id).exists()


def test_sync_celery_task_runs_the_sync_on_the_schedule(db):
    from orgsync.tasks import hr_sync

    write_batch(D1)

    result = hr_sync.apply().get()

    assert result["status"] == "applied"
    assert SyncRun.objects.get(pk=result["run_id"]).trigger == SyncRun.Trigger.SCHEDULE
    assert User.objects.filter(is_synced=True).count() == len(PEOPLE)


def test_sync_default_schedule_is_editable_in_admin(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="HR org sync")
    assert task.task == "orgsync.hr_sync"
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (15, "minutes")
