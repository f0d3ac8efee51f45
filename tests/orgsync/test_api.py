"""REST of the directory: /api/me, /api/org/tree, /api/users."""

from __future__ import annotations

from datetime import time

import pytest

from orgsync.models import User
from tests.factories import OrgFactory
from tests.messages.helpers import assert_error

# --- /api/me ----------------------------------------------------------------------------------


def test_me_get_shows_my_profile_and_settings(api, make_user):
    org = OrgFactory(org_cd="DEV", name="개발팀")
    me = make_user(user_id="kim", name="김개발", org=org, job="과장", nickname="휴가 중")

    response = api(me).get("/api/me")

    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == "kim"
    assert body["name"] == "김개발"
    assert body["org_cd"] == "DEV"
    assert body["org_name"] == "개발팀"
    assert body["job"] == "과장"
    assert body["nickname"] == "휴가 중"
    assert body["notify_off"] is False
    assert body["quiet_from"] is None
    assert body["quiet_to"] is None
    assert body["is_staff"] is False
    assert "password" not in body


def test_me_patch_changes_my_status_and_notification_settings(api, alice):
    response = api(alice).patch(
        "/api/me",
        {
            "nickname": "회의 중 🙏",
            "notify_off": True,
            "hide_body": True,
            "hide_sender": False,
            "quiet_from": "22:00",
            "quiet_to": "07:30",
        },
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["nickname"] == "회의 중 🙏"
    assert body["notify_off"] is True
    assert body["hide_body"] is True
    assert body["quiet_from"] == "22:00"
    assert body["quiet_to"] == "07:30"
    alice.refresh_from_db()
    assert alice.nickname == "회의 중 🙏"
    assert alice.quiet_from == time(22, 0)
    assert alice.quiet_to == time(7, 30)
    assert api(alice).get("/api/me").json()["quiet_to"] == "07:30"


def test_me_patch_clears_quiet_hours_together(api, alice):
    api(alice).patch("/api/me", {"quiet_from": "22:00", "quiet_to": "07:00"}, format="json")
    response = api(alice).patch("/api/me", {"quiet_from": None, "quiet_to": None}, format="json")
    assert response.status_code == 200
    assert response.json()["quiet_from"] is None
    alice.refresh_from_db()
    assert alice.quiet_from is None
    assert alice.quiet_to is None


def test_me_patch_one_end_of_existing_quiet_hours(api, alice):
    api(alice).patch("/api/me", {"quiet_from": "22:00", "quiet_to": "07:00"}, format="json")
    response = api(alice).patch("/api/me", {"quiet_to": "06:00"}, format="json")
    assert response.status_code == 200
    assert response.json()["quiet_from"] == "22:00"
    assert response.json()["quiet_to"] == "06:00"


@pytest.mark.parametrize(
    "payload",
    [
        {"quiet_from": "22:00"},
        {"quiet_to": "07:00"},
        {"quiet_from": "22:00", "quiet_to": "22:00"},
        {"quiet_from": "25:00", "quiet_to": "07:00"},
        {"quiet_from": "late", "quiet_to": "07:00"},
        {"notify_off": "perhaps"},
        {"notify_off": None},
        {"nickname": "가" * 101},
        {"nickname": None},
        {"nickname": "nul\x00"},
        {"name": "새 이름"},
        {"is_staff": True},
        {"is_superuser": True},
        {"user_id": "admin"},
        {"nickname": "ok", "password": "x"},
        ["nickname"],
        "nickname",
    ],
    ids=repr,
)
def test_me_patch_bad_input_is_400_and_changes_nothing(api, alice, payload):
    response = api(alice).patch("/api/me", payload, format="json")

    assert_error(response, 400, "invalid")
    fresh = User.objects.get(pk=alice.pk)
    assert fresh.nickname == ""
    assert fresh.name == "앨리스"
    assert fresh.is_staff is False
    assert fresh.is_superuser is False
    assert fresh.user_id == "alice"
    assert fresh.notify_off is False
    assert fresh.quiet_from is None
    assert fresh.quiet_to is None
    assert fresh.check_password("Test-pass-1234")


def test_me_patch_unknown_field_is_named_in_the_error(api, alice):
    error = assert_error(api(alice).patch("/api/me", {"colour": "red"}, format="json"), 400)
    assert "colour" in error["message"]


# --- /api/org/tree ----------------------------------------------------------------------------


def test_org_tree_lists_orgs_in_seq_order_with_their_active_people(api, make_user):
    company = OrgFactory(org_cd="C", name="회사", seq="0001", level=0)
    sales = OrgFactory(org_cd="S", name="영업팀", seq="0003", level=1, parent=company)
    dev = OrgFactory(org_cd="D", name="개발팀", seq="0002", level=1, parent=company)
    OrgFactory(org_cd="X", name="없어진 팀", seq="0004", is_active=False)
    make_user(user_id="lee", name="이영업", org=sales)
    make_user(user_id="park", name="박개발", org=dev)
    make_user(user_id="choi", name="최개발", org=dev)
    make_user(user_id="gone", name="퇴사자", org=dev, is_active=False)
    viewer = make_user(user_id="viewer", name="가나다", org=company)

    response = api(viewer).get("/api/org/tree")

    assert response.status_code == 200
    orgs = response.json()["orgs"]
    assert [o["org_cd"] for o in orgs] == ["C", "D", "S"]
    by_cd = {o["org_cd"]: o for o in orgs}
    assert by_cd["C"]["parent"] is None
    assert by_cd["D"]["parent"] == "C"
    assert by_cd["D"]["level"] == 1
    assert by_cd["D"]["name"] == "개발팀"
    assert [u["user_id"] for u in by_cd["D"]["users"]] == ["park", "choi"]
    assert [u["name"] for u in by_cd["S"]["users"]] == ["이영업"]
    assert [u["user_id"] for u in by_cd["C"]["users"]] == ["viewer"]


def test_org_tree_query_count_does_not_grow_with_the_org(
    api, make_user, django_assert_max_num_queries
):
    viewer = make_user()
    for n in range(20):
        make_user(org=OrgFactory(name=f"팀{n}"))
    client = api(viewer)
    # Authentication, the org rows, the people rows: not one query per org or person.
    with django_assert_max_num_queries(6):
        response = client.get("/api/org/tree")
    assert len(response.json()["orgs"]) == 21


# --- /api/users -------------------------------------------------------------------------------


@pytest.fixture
def directory(make_user):
    design = OrgFactory(name="디자인팀")
    return {
        "hong": make_user(user_id="hong", name="홍길동", job="대리"),
        "hong2": make_user(user_id="hongsun", name="홍순이", org=design),
        "kim": make_user(user_id="kimdesign", name="김민지", org=design, job="팀장"),
        "gone": make_user(user_id="honggone", name="홍퇴사", is_active=False),
    }


def test_users_search_by_korean_name(api, alice, directory):
    response = api(alice).get("/api/users", {"q": "홍"})

    assert response.status_code == 200
    users = response.json()["users"]
    assert [u["user_id"] for u in users] == ["hong", "hongsun"]
    assert users[0]["name"] == "홍길동"
    assert users[0]["job"] == "대리"


def test_users_search_by_org_and_job(api, alice, directory):
    by_org = api(alice).get("/api/users", {"q": "디자인"}).json()["users"]
    assert {u["user_id"] for u in by_org} == {"hongsun", "kimdesign"}
    by_job = api(alice).get("/api/users", {"q": "팀장"}).json()["users"]
    assert [u["user_id"] for u in by_job] == ["kimdesign"]


def test_users_search_no_match_is_an_empty_list(api, alice, directory):
    response = api(alice).get("/api/users", {"q": "없는사람"})
    assert response.status_code == 200
    assert response.json() == {"users": []}


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "  "}, {"q": "가" * 51}], ids=repr)
def test_users_search_bad_query_is_400(api, alice, params):
    assert_error(api(alice).get("/api/users", params), 400, "invalid")
