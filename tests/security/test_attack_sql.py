"""SQL injection in every search and filter: each query parameter of the API and every admin
search box and list filter gets the classic payloads. Expected: a literal match (LIKE
wildcards escaped), a clear 400 for malformed numbers, never a 5xx, never another user's data.

The code holds no SQL built from input: the only cursor.execute calls pass parameters
(orgsync/sync/lock.py) or none (messenger/views.py healthz, bench_sync); there is no .raw(),
.extra() or RawSQL (test_attack_sql_no_raw_sql_is_built_from_strings keeps it that way).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from messages import services as message_services
from tests.factories import OrgFactory, UserFactory

REPO = Path(__file__).resolve().parents[2]

PAYLOADS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    '" OR ""="',
    "1; DROP TABLE talk_message; --",
    "') UNION SELECT user_id, password FROM orgsync_user --",
    "1 UNION SELECT NULL,NULL,NULL--",
    "%",
    "_",
    "%%",
    "\\",
    "\\%",
    "' AND SLEEP(5) --",
    "admin'/*",
    "x\x00y",
    "\x00",
    "\uff11 OR \uff11=\uff11",  # fullwidth digits
    "🙂' OR 1=1 --",
    "x" * 5000,
]
NUMERIC_PAYLOADS = [
    "1 OR 1=1",
    "1; DROP TABLE talk_message",
    "-1",
    "1.5",
    "1e3",
    "0x10",
    "99999999999999999999999999",
    "9" * 5000,
    "%",
    "\x00",
    "' OR '1'='1",
]


def _ok_or_clear_error(response) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and body["error"]["message"], body


@pytest.fixture
def talk(alice, bob, carol, dave, group):
    """alice's group holds messages with wildcard characters; a room without alice holds the
    payload texts themselves, which alice must never see."""
    bodies = ["100% 완료", "snake_case 이름", "C:\\temp 경로", "평범한 메시지", "' OR 1=1 -- 인용"]
    for body in bodies:
        message_services.message_send(actor=alice, room_id=group.pk, msg_id=uuid.uuid4(), body=body)
    secret_room, _ = message_services.room_create(actor=dave, member_ids=[carol.user_id])
    for body in [*PAYLOADS[:13], "dave의 비밀 100%"]:
        message_services.message_send(
            actor=dave, room_id=secret_room.pk, msg_id=uuid.uuid4(), body=body
        )
    return {"group": group, "secret_room": secret_room, "bodies": bodies}


def _search(client, **params):
    return client.get(reverse("search"), params)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_attack_sql_message_search_matches_literally(api, alice, talk, payload):
    response = _search(api(alice), q=payload)

    _ok_or_clear_error(response)
    if response.status_code == 200:
        text = payload.strip().lower()
        found = response.json()["messages"]
        assert all(text in m["body"].lower() for m in found), (payload, found)
        assert all(m["room_id"] == talk["group"].pk for m in found)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("%", ["100% 완료"]),
        ("_", ["snake_case 이름"]),
        ("\\", ["C:\\temp 경로"]),
        ("' OR 1=1 --", ["' OR 1=1 -- 인용"]),
        ("UNION SELECT", []),
    ],
)
def test_attack_sql_message_search_wildcards_are_literal(api, alice, talk, q, expected):
    response = _search(api(alice), q=q)

    assert response.status_code == 200
    assert [m["body"] for m in response.json()["messages"]] == expected


@pytest.mark.parametrize("payload", NUMERIC_PAYLOADS)
@pytest.mark.parametrize("field", ["room_id", "limit"])
def test_attack_sql_message_search_numbers(api, alice, talk, field, payload):
    response = _search(api(alice), q="완료", **{field: payload})

    _ok_or_clear_error(response)
    if response.status_code == 200:
        assert all(m["room_id"] == talk["group"].pk for m in response.json()["messages"])


def test_attack_sql_message_search_in_a_room_of_others_is_refused(api, alice, talk):
    response = _search(api(alice), q="%", room_id=talk["secret_room"].pk)

    assert response.status_code in (403, 404)


@pytest.mark.parametrize("payload", NUMERIC_PAYLOADS)
@pytest.mark.parametrize("field", ["before_seq", "after_seq", "limit"])
def test_attack_sql_history_paging_cursors(api, alice, talk, field, payload):
    url = reverse("room-messages", kwargs={"room_id": talk["group"].pk})

    response = api(alice).get(url, {field: payload})

    _ok_or_clear_error(response)
    if response.status_code == 200:
        bodies = {m["body"] for m in response.json()["messages"]}
        assert "dave의 비밀 100%" not in bodies


@pytest.fixture
def people(db):
    org = OrgFactory(org_cd="DEV", name="개발팀")
    return [
        UserFactory(user_id="kim.minjun", name="김민준", org=org, job="100% 재택"),
        UserFactory(user_id="lee_seoyeon", name="이서연", org=org, job="개발"),
        UserFactory(user_id="park.jiho", name="박지호", org=org, job="C:\\ 담당"),
        UserFactory(user_id="gone.user", name="퇴사자 ' OR 1=1 --", org=org, is_active=False),
    ]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_attack_sql_directory_search_matches_literally(api, alice, people, payload):
    response = api(alice).get(reverse("users"), {"q": payload})

    _ok_or_clear_error(response)
    if response.status_code == 200:
        ids = [u["user_id"] for u in response.json()["users"]]
        assert "gone.user" not in ids
        # Nobody's fields contain these, whatever the SQL would have made of them.
        if payload not in ("%", "_", "\\"):
            assert ids == [], (payload, ids)


@pytest.mark.parametrize(
    ("q", "expected"),
    [("%", ["kim.minjun"]), ("_", ["lee_seoyeon"]), ("\\", ["park.jiho"])],
)
def test_attack_sql_directory_wildcards_are_literal(api, alice, people, q, expected):
    response = api(alice).get(reverse("users"), {"q": q})

    assert response.status_code == 200
    assert [u["user_id"] for u in response.json()["users"]] == expected


@pytest.mark.parametrize("payload", PAYLOADS)
def test_attack_sql_org_tree_parent(api, alice, people, payload):
    response = api(alice).get(reverse("org-tree"), {"parent": payload})

    _ok_or_clear_error(response)
    assert response.status_code in (200, 404)
    if payload.strip():
        assert response.status_code == 404


@pytest.mark.parametrize(
    "payload", ["' OR 1=1 --", "%", "_", "x%00y", "%2527", "..%2F..", "a" * 300]
)
@pytest.mark.parametrize("route", ["user", "user-picture"])
def test_attack_sql_user_lookups_by_id(api, alice, people, route, payload):
    response = api(alice).get(reverse(route, kwargs={"user_id": "X"}).replace("/X", "/" + payload))

    _ok_or_clear_error(response)
    assert response.status_code in (400, 404)


@pytest.mark.parametrize("payload", ["' OR 1=1 --", "%", "1 UNION SELECT 1", "%00", "9" * 50])
@pytest.mark.parametrize("route", ["message-readers", "message", "file"])
def test_attack_sql_message_ids_in_the_path(api, alice, talk, route, payload):
    response = api(alice).get(reverse(route, kwargs={"msg_id": "X"}).replace("/X", "/" + payload))

    _ok_or_clear_error(response)
    assert response.status_code in (400, 404, 405)


# --- the admin ----------------------------------------------------------------------------------


@pytest.fixture
def it_admin(db):
    return UserFactory(user_id="it.admin", name="관리자", is_staff=True, is_superuser=True)


def _changelists() -> list[tuple[str, object]]:
    return [
        (f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist", model_admin)
        for m, model_admin in admin.site._registry.items()
    ]


@pytest.mark.parametrize(
    ("url_name", "model_admin"), _changelists(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_attack_sql_admin_search_and_filters(it_admin, talk, people, url_name, model_admin):
    client = Client()
    client.force_login(it_admin)
    url = reverse(url_name)
    filters = [
        getattr(f, "parameter_name", None) or (f if isinstance(f, str) else None)
        for f in model_admin.list_filter
    ]
    for payload in ["' OR 1=1 --", "%", "_", "\\", "1 UNION SELECT 1", "x\x00y", "x" * 3000]:
        if model_admin.search_fields:
            response = client.get(url, {"q": payload})
            assert response.status_code == 200, (url, payload, response.status_code)
        for name in filter(None, filters):
            response = client.get(url, {name: payload})
            # An unknown filter value makes the admin redirect with ?e=1, never fail.
            assert response.status_code in (200, 302), (url, name, payload, response.status_code)


def test_attack_sql_admin_search_percent_is_literal(it_admin, talk, people):
    client = Client()
    client.force_login(it_admin)

    response = client.get(reverse("admin:orgsync_user_changelist"), {"q": "%"})

    assert response.status_code == 200
    assert "kim.minjun" in response.content.decode()
    assert "lee_seoyeon" not in response.content.decode()


RAW_SQL = re.compile(
    r"\.raw\(|\.extra\(|RawSQL\(|execute\(\s*f[\"']|execute\([^)]*(%\s|\.format\()"
)


def test_attack_sql_no_raw_sql_is_built_from_strings():
    offenders = []
    for path in REPO.glob("*/**/*.py"):
        parts = path.relative_to(REPO).parts
        if parts[0] in (".venv", "tests", "node_modules") or "migrations" in parts:
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(REPO)}: {m.group(0)}" for m in RAW_SQL.finditer(text)]
    assert offenders == []
