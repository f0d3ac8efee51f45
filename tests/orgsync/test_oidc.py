"""Sign-in with the company account (OpenID Connect) against a real provider in a second process
(tests/oidc_idp: django-oidc-provider): the code flow with PKCE, the claim mapped to the user
id, refusals (unknown or deactivated people, tampered state, a provider that is down, ID tokens
that do not verify), the one-time exchange code, and the action log."""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from joserfc.errors import JoseError
from rest_framework.test import APIClient

from orgsync import oidc
from orgsync.models import ActionLog, User
from tests.factories import UserFactory
from tests.messages.helpers import assert_error
from tests.oidc_idp.fixtures import oidc_settings, provider_tokens, sign_in_at_provider
from tests.oidc_idp.server import CLIENT_ID

CALLBACK = "http://testserver/api/auth/oidc/callback"
ADDRESS = "10.7.0.1"


@pytest.fixture
def provider(oidc_provider, settings):
    oidc_provider.allow_redirect(CALLBACK)
    settings.MESSENGER_OIDC = oidc_settings(oidc_provider)
    return oidc_provider


def start(browser: Client) -> str:
    """Click "Sign in with company account": the provider's authorisation URL."""
    answer = browser.get("/api/auth/oidc/login")
    assert answer.status_code == 302, answer.content[:300]
    assert answer["Location"].startswith("http://127.0.0.1:")
    return answer["Location"]


def come_back(browser: Client, url: str) -> dict[str, str]:
    """Follow the provider's redirect to our callback; what it hands the client page in the
    fragment ({"oidc_code": ...} or {"oidc_error": ...})."""
    parts = urlsplit(url)
    answer = browser.get(parts.path, parse_qs(parts.query), REMOTE_ADDR=ADDRESS)
    assert answer.status_code == 302, answer.content[:300]
    location = urlsplit(answer["Location"])
    assert (location.path, location.query) == ("/", "")
    assert answer["Cache-Control"] == "no-store"
    return {key: values[0] for key, values in parse_qs(location.fragment).items()}


def exchange(code: str):
    return APIClient().post(
        "/api/auth/oidc/exchange", {"code": code}, format="json", REMOTE_ADDR=ADDRESS
    )


def sign_in(username: str) -> dict[str, str]:
    browser = Client()
    return come_back(browser, sign_in_at_provider(start(browser), username))


def test_oidc_sign_in_maps_preferred_username_to_the_account(provider, db):
    minjun = UserFactory(user_id="minjun.kim", name="김민준")

    start_url = start(browser := Client())
    query = parse_qs(urlsplit(start_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [CLIENT_ID]
    assert all(query[name][0] for name in ("state", "nonce", "code_challenge"))
    result = come_back(browser, sign_in_at_provider(start_url, "minjun.kim"))

    assert set(result) == {"oidc_code"}
    tokens = exchange(result["oidc_code"])
    assert tokens.status_code == 200, tokens.content
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access']}")
    assert me.get("/api/me").json()["user_id"] == "minjun.kim"
    entry = ActionLog.objects.get()
    assert (entry.user, entry.work, entry.state, entry.device) == (minjun, "login", "ok", "web")
    assert entry.detail == f"oidc {ADDRESS} minjun.kim"
    assert result["oidc_code"] not in entry.detail


def test_oidc_claim_setting_maps_another_claim(provider, settings, db):
    """The test provider gives employee_id only at its userinfo endpoint, not in the ID token
    (tests/oidc_idp/claims.py), as AD FS may: the messenger asks there."""
    settings.MESSENGER_OIDC = oidc_settings(
        provider, CLAIM="employee_id", SCOPES="openid profile employee"
    )
    employee = UserFactory(user_id="E1002", name="이서연")
    UserFactory(user_id="seoyeon.lee", name="동명이인")

    result = sign_in("seoyeon.lee")

    access = exchange(result["oidc_code"]).json()["access"]
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert me.get("/api/me").json()["user_id"] == employee.user_id


def test_oidc_claim_missing_everywhere_is_refused(provider, settings, db):
    settings.MESSENGER_OIDC = oidc_settings(provider, CLAIM="employee_id")
    UserFactory(user_id="E1002")

    assert sign_in("seoyeon.lee") == {"oidc_error": "oidc_invalid"}
    assert ActionLog.objects.get().state == "invalid"


def test_oidc_unknown_person_is_refused_and_not_created(provider, db):
    result = sign_in("outsider.han")

    assert result == {"oidc_error": "no_active_account"}
    assert not User.objects.filter(user_id="outsider.han").exists()
    entry = ActionLog.objects.get()
    assert (entry.user, entry.work, entry.state) == (None, "login_fail", "unknown")
    assert entry.detail == f"oidc {ADDRESS} outsider.han"


def test_oidc_deactivated_person_is_refused(provider, db):
    jiho = UserFactory(user_id="jiho.park", is_active=False)

    assert sign_in("jiho.park") == {"oidc_error": "no_active_account"}
    entry = ActionLog.objects.get()
    assert (entry.user, entry.work, entry.state) == (jiho, "login_fail", "inactive")


def test_oidc_exchange_code_works_once(provider, db):
    UserFactory(user_id="minjun.kim")
    code = sign_in("minjun.kim")["oidc_code"]

    assert exchange(code).status_code == 200
    assert_error(exchange(code), 401, "oidc_code_invalid")
    assert_error(exchange(secrets.token_urlsafe(32)), 401, "oidc_code_invalid")
    assert list(ActionLog.objects.values_list("work", "state")) == [
        ("login", "ok"),
        ("login_fail", "code"),
        ("login_fail", "code"),
    ]


def test_oidc_exchange_code_expires(provider, settings, db):
    UserFactory(user_id="minjun.kim")
    settings.MESSENGER_OIDC = {**settings.MESSENGER_OIDC, "CODE_SECONDS": 1}
    code = sign_in("minjun.kim")["oidc_code"]

    time.sleep(1.5)
    assert_error(exchange(code), 401, "oidc_code_invalid")


def test_oidc_tampered_state_is_refused(provider, db):
    UserFactory(user_id="minjun.kim")
    browser = Client()
    back = sign_in_at_provider(start(browser), "minjun.kim")
    query = parse_qs(urlsplit(back).query)
    forged = f"/api/auth/oidc/callback?code={query['code'][0]}&state=x{query['state'][0]}"

    assert come_back(browser, forged) == {"oidc_error": "oidc_state"}
    # The provider's code was not traded either: the genuine callback still works after.
    assert set(come_back(browser, back)) == {"oidc_code"}
    assert ActionLog.objects.filter(work="login_fail", state="state").count() == 1


def test_oidc_callback_in_another_browser_is_refused(provider, db):
    """A callback URL handed to someone else (login CSRF): their browser never started it."""
    UserFactory(user_id="minjun.kim")
    back = sign_in_at_provider(start(Client()), "minjun.kim")

    assert come_back(Client(), back) == {"oidc_error": "oidc_state"}


def test_oidc_failures_count_against_the_address(provider, settings, db):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "2/15m"}
    browser = Client()
    for _ in range(2):
        assert come_back(browser, "/api/auth/oidc/callback?code=x&state=y") == {
            "oidc_error": "oidc_state"
        }

    assert come_back(browser, "/api/auth/oidc/callback?code=x&state=y") == {
        "oidc_error": "rate_limited"
    }
    assert_error(exchange(secrets.token_urlsafe(32)), 429, "rate_limited")
    assert ActionLog.objects.filter(state="locked").count() == 2


def test_oidc_provider_error_is_shown_as_refused(provider, db):
    browser = Client()
    state = parse_qs(urlsplit(start(browser)).query)["state"][0]

    result = come_back(browser, f"/api/auth/oidc/callback?error=access_denied&state={state}")

    assert result == {"oidc_error": "oidc_denied"}
    assert ActionLog.objects.get().state == "denied"


def test_oidc_provider_down_at_the_start(provider, settings, db):
    provider.stop()
    try:
        # A configuration this process has not used yet: the discovery document is fetched now.
        settings.MESSENGER_OIDC = oidc_settings(provider, TIMEOUT_SECONDS=2)
        answer = Client().get("/api/auth/oidc/login")
    finally:
        provider.start()

    assert answer.status_code == 302
    assert answer["Location"] == "/#oidc_error=oidc_unavailable"


def test_oidc_provider_down_at_the_callback(provider, db):
    UserFactory(user_id="minjun.kim")
    browser = Client()
    back = sign_in_at_provider(start(browser), "minjun.kim")
    provider.stop()
    try:
        result = come_back(browser, back)
    finally:
        provider.start()

    assert result == {"oidc_error": "oidc_unavailable"}
    assert ActionLog.objects.get().state == "down"


def test_oidc_id_token_signed_with_the_client_secret_is_refused(provider, db):
    """A provider (or a forger who knows the client secret) signing ID tokens with HS256: only
    the provider's published asymmetric keys are trusted."""
    UserFactory(user_id="minjun.kim")
    database = provider.folder / "idp.sqlite3"
    with sqlite3.connect(database) as db_:
        db_.execute("UPDATE oidc_provider_client SET jwt_alg = 'HS256'")
    try:
        result = sign_in("minjun.kim")
    finally:
        with sqlite3.connect(database) as db_:
            db_.execute("UPDATE oidc_provider_client SET jwt_alg = 'RS256'")

    assert result == {"oidc_error": "oidc_invalid"}
    assert ActionLog.objects.get().state == "invalid"


def test_oidc_id_token_verification(provider, settings):
    """The ID-token check itself, on real tokens of the provider: a genuine one passes, one with
    a changed claim, a cut signature or another nonce does not."""
    nonce = secrets.token_urlsafe(16)
    tokens = provider_tokens(
        provider,
        "minjun.kim",
        nonce=nonce,
        redirect_uri=CALLBACK,
        scope="openid profile employee",
    )
    app = oidc._app(settings.MESSENGER_OIDC)

    claims = app.parse_id_token(tokens, nonce=nonce)
    assert claims["preferred_username"] == "minjun.kim"
    # (employee_id is left to the userinfo endpoint: test_oidc_claim_setting_maps_another_claim)
    assert "employee_id" not in claims

    header, payload, signature = tokens["id_token"].split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["preferred_username"] = "jiho.park"
    forged_payload = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    for forged in (
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{payload}.{signature[:-8]}",
    ):
        with pytest.raises(JoseError):
            app.parse_id_token({**tokens, "id_token": forged}, nonce=nonce)
    with pytest.raises(JoseError):
        app.parse_id_token(tokens, nonce="another-nonce")


def test_oidc_off_answers_not_found(settings, db):
    settings.MESSENGER_OIDC = {**settings.MESSENGER_OIDC, "CLIENT_ID": "", "DISCOVERY_URL": ""}

    assert_error(Client().get("/api/auth/oidc/login"), 404, "oidc_off")
    assert_error(Client().get("/api/auth/oidc/callback?code=a&state=b"), 404, "oidc_off")
    assert_error(exchange(secrets.token_urlsafe(32)), 404, "oidc_off")
    assert "login-oidc" not in Client().get("/").content.decode()


def test_oidc_login_page_shows_the_button_when_set_up(provider, db):
    page = Client().get("/").content.decode()

    assert 'id="login-oidc"' in page
    assert 'href="/api/auth/oidc/login"' in page


def test_oidc_exchange_needs_a_code(provider, db):
    answer = APIClient().post("/api/auth/oidc/exchange", {}, format="json")

    assert_error(answer, 400, "invalid")


def test_oidc_exchange_refusal_in_the_requests_language(provider, db):
    code = secrets.token_urlsafe(32)
    korean = APIClient().post(
        "/api/auth/oidc/exchange", {"code": code}, format="json", HTTP_ACCEPT_LANGUAGE="ko-KR"
    )
    english = APIClient().post(
        "/api/auth/oidc/exchange", {"code": code}, format="json", HTTP_ACCEPT_LANGUAGE="en-US"
    )

    assert assert_error(korean, 401, "oidc_code_invalid")["message"] == (
        "로그인 시간이 지났거나 이미 사용된 로그인입니다. 다시 로그인하세요."
    )
    assert assert_error(english, 401, "oidc_code_invalid")["message"] == (
        "This sign-in has expired or was already used. Sign in again."
    )
