"""Signed-in sessions: every sign-on starts one, /api/me/sessions lists my devices, signing one
out (or logging out) stops its tokens at once, and a new password signs the others out."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from orgsync import services, sessions
from orgsync.models import ActionLog, LoginSession, User
from tests.factories import PASSWORD, UserFactory
from tests.messages.helpers import assert_error

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
NEW_PASSWORD = "Blue-harbour-7741"


def sign_in(user_id: str, *, kind: str = "web", agent: str = CHROME_WINDOWS, address="10.1.2.3"):
    response = APIClient().post(
        "/api/auth/token",
        {"user_id": user_id, "password": PASSWORD, "kind": kind},
        format="json",
        HTTP_USER_AGENT=agent,
        REMOTE_ADDR=address,
    )
    assert response.status_code == 200, response.content
    return response.json()


def as_device(tokens: dict[str, str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client


def refresh(tokens: dict[str, str]):
    return APIClient().post(
        "/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )


def sid_of(tokens: dict[str, str]) -> int:
    return AccessToken(tokens["access"])["sid"]


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- what a session shows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (CHROME_WINDOWS, "Chrome 131 on Windows"),
        (SAFARI_IPHONE, "Safari 17 on iOS"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133 on macOS",
        ),
        (CHROME_WINDOWS + " Edg/131.0.2903.70", "Edge 131 on Windows"),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918N) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
            "Samsung Internet 25 on Android",
        ),
        (CHROME_WINDOWS + " Whale/3.28.266.14", "Whale 3 on Windows"),
        ("okhttp/4.12.0", "okhttp 4.12.0"),
        ("", ""),
        ("Mozilla/5.0 (X11; Linux x86_64)", "Linux"),
    ],
)
def test_user_agent_label_is_short_and_readable(agent, label):
    assert sessions.user_agent_label(agent) == label


def test_sign_on_starts_a_session_the_tokens_carry(alice):
    tokens = sign_in("alice", kind="mobile", agent=SAFARI_IPHONE, address="10.0.0.7")

    session = LoginSession.objects.get(user=alice)
    assert sid_of(tokens) == session.pk
    assert RefreshToken(tokens["refresh"])["sid"] == session.pk
    assert (session.kind, session.method, session.address, session.browser) == (
        "mobile",
        "password",
        "10.0.0.7",
        "Safari 17 on iOS",
    )
    assert session.ended_at is None
    # A refreshed access token is still of the same session.
    assert sid_of({"access": refresh(tokens).json()["access"]}) == session.pk


def test_login_tokens_of_any_method_start_a_session(alice):
    tokens = services.login_tokens(
        user=alice, method="erp", device="other-thing", address="10.0.0.9", user_agent=""
    )
    session = LoginSession.objects.get(pk=sid_of(tokens))
    assert (session.kind, session.method, session.browser) == ("other", "erp", "")
    assert as_device(tokens).get("/api/me").status_code == 200


def test_my_sessions_lists_my_devices_with_this_one_marked(alice, bob):
    laptop = sign_in("alice", agent=CHROME_WINDOWS)
    phone = sign_in("alice", kind="mobile", agent=SAFARI_IPHONE)
    sign_in("bob")

    listed = as_device(laptop).get("/api/me/sessions").json()["sessions"]

    assert [(s["id"], s["current"]) for s in listed] == [
        (sid_of(laptop), True),
        (sid_of(phone), False),
    ]
    first = listed[0]
    assert set(first) == {
        "id",
        "kind",
        "method",
        "since",
        "last_seen",
        "address",
        "browser",
        "current",
    }
    assert (first["kind"], first["method"], first["browser"]) == (
        "web",
        "password",
        "Chrome 131 on Windows",
    )
    assert listed[1]["browser"] == "Safari 17 on iOS"


# --- signing a device out ---------------------------------------------------------------------


def test_signing_a_device_out_stops_its_tokens_at_once(alice):
    laptop = sign_in("alice")
    phone = sign_in("alice", kind="mobile", agent=SAFARI_IPHONE)
    # The phone was in use a moment ago: its state is cached as live.
    assert as_device(phone).get("/api/me").status_code == 200

    response = as_device(laptop).delete(f"/api/me/sessions/{sid_of(phone)}")

    assert response.status_code == 204
    assert_error(as_device(phone).get("/api/me"), 401, "session_ended")
    assert_error(refresh(phone), 401, "session_ended")
    assert as_device(laptop).get("/api/me").status_code == 200
    assert refresh(laptop).status_code == 200
    listed = as_device(laptop).get("/api/me/sessions").json()["sessions"]
    assert [s["id"] for s in listed] == [sid_of(laptop)]
    ended = LoginSession.objects.get(pk=sid_of(phone))
    assert ended.end_reason == "revoked"
    log = ActionLog.objects.get(work=ActionLog.Work.LOGOUT)
    assert (log.user, log.device, log.state) == (alice, "mobile", "revoked")
    # Again: nothing more to do.
    assert as_device(laptop).delete(f"/api/me/sessions/{sid_of(phone)}").status_code == 204


def test_someone_elses_session_is_not_found_and_left_alone(alice, bob):
    mine = sign_in("alice")
    theirs = sign_in("bob")

    response = as_device(mine).delete(f"/api/me/sessions/{sid_of(theirs)}")

    assert_error(response, 404, "not_found")
    assert as_device(theirs).get("/api/me").status_code == 200
    assert LoginSession.objects.get(pk=sid_of(theirs)).ended_at is None
    assert_error(as_device(mine).delete("/api/me/sessions/999999999"), 404, "not_found")
    assert_error(as_device(mine).delete("/api/me/sessions/abc"), 404, "not_found")


def test_signing_out_everywhere_else_keeps_this_device(alice):
    laptop = sign_in("alice")
    others = [sign_in("alice", kind="mobile") for _ in range(2)]

    response = as_device(laptop).delete("/api/me/sessions")

    assert response.status_code == 200
    assert response.json() == {"ended": 2}
    for tokens in others:
        assert_error(as_device(tokens).get("/api/me"), 401, "session_ended")
    assert as_device(laptop).get("/api/me").status_code == 200


def test_last_seen_is_written_at_most_once_per_cache_window(alice):
    tokens = sign_in("alice")
    sid = sid_of(tokens)
    before = LoginSession.objects.get(pk=sid).last_seen_at
    client = as_device(tokens)

    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert client.get("/api/me").status_code == 200
    writes = [q["sql"] for q in queries if "UPDATE" in q["sql"] and "loginsession" in q["sql"]]

    assert len(writes) == 1
    assert LoginSession.objects.get(pk=sid).last_seen_at >= before
    # A refresh is seen too, always from the database.
    LoginSession.objects.filter(pk=sid).update(last_seen_at=before)
    assert refresh(tokens).status_code == 200
    assert LoginSession.objects.get(pk=sid).last_seen_at > before


# --- logout -----------------------------------------------------------------------------------


def test_logout_revokes_the_refresh_token_and_ends_the_session(alice):
    laptop = sign_in("alice")
    phone = sign_in("alice", kind="mobile")

    response = APIClient().post("/api/auth/logout", {"refresh": laptop["refresh"]}, format="json")

    assert response.status_code == 204
    assert_error(refresh(laptop), 401, "token_not_valid")
    assert_error(as_device(laptop).get("/api/me"), 401, "session_ended")
    assert LoginSession.objects.get(pk=sid_of(laptop)).end_reason == "logout"
    assert as_device(phone).get("/api/me").status_code == 200
    # Logging out twice with the same token: it is no longer valid.
    again = APIClient().post("/api/auth/logout", {"refresh": laptop["refresh"]}, format="json")
    assert_error(again, 401, "token_not_valid")


@pytest.mark.parametrize(
    "body",
    [{}, {"refresh": ""}, {"refresh": ["x"]}, {"refresh": "not.a.token"}],
    ids=repr,
)
def test_logout_with_bad_input_is_a_json_error(alice, body):
    response = APIClient().post("/api/auth/logout", body, format="json")
    assert response.status_code in (400, 401)
    assert_error(response, response.status_code)


def test_logout_with_an_access_token_is_refused(alice):
    tokens = sign_in("alice")
    response = APIClient().post("/api/auth/logout", {"refresh": tokens["access"]}, format="json")
    assert_error(response, 401, "token_not_valid")
    assert as_device(tokens).get("/api/me").status_code == 200


# --- Redis down: correct over fast --------------------------------------------------------------

DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        # Nothing listens on port 1: every cache call fails as with Redis down.
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


def test_without_the_cache_sessions_are_checked_in_the_database(settings, alice):
    laptop = sign_in("alice")
    phone = sign_in("alice", kind="mobile")
    # Ended behind the cache's back: only the database knows.
    LoginSession.objects.filter(pk=sid_of(phone)).update(ended_at=timezone.now())
    settings.CACHES = DEAD_REDIS

    # (/api/me/sessions, not /api/me: presence lives in Redis.)
    assert as_device(laptop).get("/api/me/sessions").status_code == 200
    assert_error(as_device(phone).get("/api/me/sessions"), 401, "session_ended")


def test_without_the_cache_signing_out_is_refused_and_changes_nothing(settings, alice):
    laptop = sign_in("alice")
    phone = sign_in("alice", kind="mobile")
    settings.CACHES = DEAD_REDIS

    response = as_device(laptop).delete(f"/api/me/sessions/{sid_of(phone)}")

    assert_error(response, 503, "unavailable")
    assert LoginSession.objects.get(pk=sid_of(phone)).ended_at is None


# --- my password ------------------------------------------------------------------------------


def change_password(tokens, old=PASSWORD, new=NEW_PASSWORD, **extra):
    return as_device(tokens).post(
        "/api/me/password", {"old_password": old, "new_password": new}, format="json", **extra
    )


def test_changing_my_password_signs_the_others_out_and_keeps_this_device(fast_hashing, alice):
    laptop = sign_in("alice")
    phone = sign_in("alice", kind="mobile")

    response = change_password(laptop)

    assert response.status_code == 200
    fresh = response.json()
    assert set(fresh) == {"access", "refresh"}
    assert sid_of(fresh) == sid_of(laptop)
    assert as_device(fresh).get("/api/me").status_code == 200
    assert refresh(fresh).status_code == 200
    # The old tokens, this device's too, carry the old password's stamp.
    assert_error(as_device(laptop).get("/api/me"), 401)
    assert_error(as_device(phone).get("/api/me"), 401)
    assert_error(refresh(phone), 401)
    listed = as_device(fresh).get("/api/me/sessions").json()["sessions"]
    assert [s["id"] for s in listed] == [sid_of(laptop)]
    assert LoginSession.objects.get(pk=sid_of(phone)).end_reason == "password"
    assert (
        APIClient()
        .post("/api/auth/token", {"user_id": "alice", "password": NEW_PASSWORD}, format="json")
        .status_code
        == 200
    )
    assert ActionLog.objects.filter(user=alice, work=ActionLog.Work.PASSWORD).count() == 1


def test_a_wrong_old_password_is_refused_logged_and_counted(settings, fast_hashing, alice):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_user": "3/15m", "login_ip": "100/15m"}
    laptop = sign_in("alice")

    for _ in range(3):
        assert_error(change_password(laptop, old="not-my-password"), 400, "wrong_password")
    locked = change_password(laptop)

    assert_error(locked, 429, "rate_limited")
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    states = list(
        ActionLog.objects.filter(work=ActionLog.Work.PASSWORD_FAILED)
        .order_by("pk")
        .values_list("state", flat=True)
    )
    assert states == ["password"] * 3 + ["locked"]
    # The same counter as logins: signing in is locked too.
    assert (
        APIClient()
        .post("/api/auth/token", {"user_id": "alice", "password": PASSWORD}, format="json")
        .status_code
        == 429
    )


@pytest.mark.parametrize(
    ("new", "fragment"),
    [
        ("short1!", "too short"),
        ("password123", "too common"),
    ],
)
def test_a_weak_new_password_gets_the_validators_messages(fast_hashing, alice, new, fragment):
    tokens = sign_in("alice")
    error = assert_error(change_password(tokens, new=new), 400, "invalid")
    assert fragment in error["message"]
    assert error["detail"]["new_password"]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


@pytest.mark.parametrize(
    "body",
    [{}, {"old_password": PASSWORD}, {"new_password": NEW_PASSWORD}, {"old_password": 5}],
    ids=repr,
)
def test_a_password_change_with_fields_missing_is_400(alice, body):
    tokens = sign_in("alice")
    assert_error(as_device(tokens).post("/api/me/password", body, format="json"), 400, "invalid")


def test_the_same_password_again_is_refused(fast_hashing, alice):
    tokens = sign_in("alice")
    assert_error(change_password(tokens, new=PASSWORD), 400, "invalid")


def test_an_hr_synced_account_without_a_password_is_told_why(db):
    synced = UserFactory(user_id="hr.person", is_synced=True)
    synced.set_unusable_password()
    synced.save()
    tokens = services.login_tokens(user=synced, method="erp", device="web", address="")
    client = as_device(tokens)
    assert client.get("/api/me").json()["credentials_changeable"] is False

    error = assert_error(change_password(tokens, old="anything"), 403, "password_not_local")
    assert "HR" in error["message"]
    assert not User.objects.get(pk=synced.pk).has_usable_password()


# --- nothing secret in the logs ---------------------------------------------------------------


def test_no_password_or_token_reaches_a_log(caplog, fast_hashing, alice):
    caplog.set_level(logging.DEBUG)
    laptop = sign_in("alice")
    phone = sign_in("alice", kind="mobile")
    change_password(laptop, old="Wrong-guess-9917")
    fresh = change_password(laptop).json()
    APIClient().post("/api/auth/logout", {"refresh": fresh["refresh"]}, format="json")
    APIClient().post("/api/auth/logout", {"refresh": phone["refresh"]}, format="json")

    secrets = [PASSWORD, NEW_PASSWORD, "Wrong-guess-9917"]
    secrets += [t for tokens in (laptop, phone, fresh) for t in tokens.values()]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert [s for s in secrets if s in logged] == []
    details = " ".join(ActionLog.objects.values_list("detail", flat=True))
    assert [s for s in secrets if s in details] == []


# --- Korean and English -----------------------------------------------------------------------

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "ko" / "LC_MESSAGES" / "django.po"
HANGUL = re.compile(r"[가-힣]")


@pytest.fixture
def korean(settings, tmp_path):
    """The server speaking Korean: locale/ko compiled as ./test and ./run do, asked for by the
    browser's Accept-Language (and activated here, for a server without LocaleMiddleware)."""
    target = tmp_path / "ko" / "LC_MESSAGES"
    target.mkdir(parents=True)
    subprocess.run(
        [
            shutil.which("msgfmt") or "msgfmt",
            "--check",
            "-o",
            str(target / "django.mo"),
            str(LOCALE),
        ],
        check=True,
    )
    settings.LOCALE_PATHS = [tmp_path]
    with translation.override("ko"):
        yield


def test_refusals_are_in_korean_for_a_korean_browser(korean, fast_hashing, alice):
    laptop = sign_in("alice")
    phone = sign_in("alice", kind="mobile")
    ko = {"HTTP_ACCEPT_LANGUAGE": "ko"}

    wrong = assert_error(change_password(laptop, old="nope", **ko), 400, "wrong_password")
    weak = assert_error(change_password(laptop, new="short1!", **ko), 400, "invalid")
    as_device(laptop).delete(f"/api/me/sessions/{sid_of(phone)}")
    ended = assert_error(as_device(phone).get("/api/me", **ko), 401, "session_ended")
    unknown = assert_error(as_device(laptop).delete("/api/me/sessions/99999999", **ko), 404)
    logout = assert_error(
        APIClient().post("/api/auth/logout", {"refresh": "x.y.z"}, format="json", **ko), 401
    )

    assert wrong["message"] == "현재 비밀번호가 맞지 않습니다."
    assert ended["message"] == "이 기기는 로그아웃되었습니다. 다시 로그인하세요."
    # Django's own validators speak Korean too.
    for error in (weak, unknown, logout):
        assert HANGUL.search(error["message"]), error


def test_refusals_are_in_english_by_default(fast_hashing, alice):
    laptop = sign_in("alice")
    wrong = assert_error(change_password(laptop, old="nope"), 400, "wrong_password")
    assert wrong["message"] == "The current password is not correct."
