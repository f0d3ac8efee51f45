"""The session and CSRF cookies are Secure when the site is set up for https (DJANGO_HTTPS=1),
not merely because DEBUG is off: an intranet install on plain http can log into the admin. When
the cookies are Secure and someone opens the admin over http anyway, the log-in page and the
CSRF refusal say why, in Korean and English."""

from __future__ import annotations

import os
import re

import pytest
from django.test import Client

from tests.factories import PASSWORD
from tests.security.test_headers import settings_with

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "a-production-key-for-this-test-only",
    "DJANGO_ALLOWED_HOSTS": "messenger.intranet",
    "MYSQL_DATABASE": os.environ.get("MYSQL_DATABASE") or "messenger",
    "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
}
ENGLISH = "configured for https"
KOREAN = "https용으로 설정되어"


def secure_cookies(**env: str) -> tuple[bool, bool]:
    loaded = settings_with(**PRODUCTION, **env)
    return loaded["SESSION_COOKIE_SECURE"], loaded["CSRF_COOKIE_SECURE"]


def test_https_cookies_are_secure_when_https_is_configured_not_when_debug_is_off():
    # Production on plain http (an intranet): the admin's cookies must reach the browser.
    assert secure_cookies() == (False, False)
    assert secure_cookies(DJANGO_HTTPS="1") == (True, True)
    # The documented override, either way.
    assert secure_cookies(DJANGO_SECURE_COOKIES="1") == (True, True)
    assert secure_cookies(DJANGO_HTTPS="1", DJANGO_SECURE_COOKIES="0") == (False, False)


@pytest.fixture
def admin_user(make_user):
    return make_user(user_id="it.admin", name="관리자", is_staff=True, is_superuser=True)


def log_in(client: Client, *, secure: bool, token: str | None, language: str = "en"):
    data = {"username": "it.admin", "password": PASSWORD, "next": "/admin/"}
    if token is not None:
        data["csrfmiddlewaretoken"] = token
    # As a browser does: a form's POST names the page's origin (over https Django checks it).
    origin = f"{'https' if secure else 'http'}://testserver"
    headers = {"Origin": origin, "Accept-Language": language}
    return client.post("/admin/login/?next=/admin/", data, secure=secure, headers=headers)


def login_page(client: Client, *, secure: bool, language: str = "en") -> tuple[str, str | None]:
    response = client.get(
        "/admin/login/?next=/admin/", secure=secure, headers={"Accept-Language": language}
    )
    assert response.status_code == 200
    html = response.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return html, token.group(1) if token else None


def test_https_admin_log_in_over_plain_http_works_without_https(db, settings, admin_user):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    client = Client(enforce_csrf_checks=True)

    html, token = login_page(client, secure=False)

    assert ENGLISH not in html
    assert client.cookies["csrftoken"]["secure"] == ""
    response = log_in(client, secure=False, token=token)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.cookies["sessionid"]["secure"] == ""
    assert client.get("/admin/", secure=False).status_code == 200


@pytest.mark.parametrize(("language", "text"), [("en", ENGLISH), ("ko", KOREAN)])
def test_https_admin_log_in_over_http_with_secure_cookies_says_why(
    db, settings, admin_user, language, text
):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    client = Client(enforce_csrf_checks=True)

    html, token = login_page(client, secure=False, language=language)
    # The page warns before anyone types a password.
    assert text in html and "DJANGO_HTTPS" in html
    # The CSRF cookie is Secure: a browser on this http page does not keep it, so its log-in
    # arrives without one. Django's page said only "CSRF cookie not set".
    assert client.cookies["csrftoken"]["secure"] is True
    browser = Client(enforce_csrf_checks=True)
    refused = log_in(browser, secure=False, token=token, language=language)

    assert refused.status_code == 403
    page = refused.content.decode()
    assert text in page and "DJANGO_HTTPS" in page
    assert "sessionid" not in browser.cookies


def test_https_admin_log_in_over_https_with_secure_cookies_works(db, settings, admin_user):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    client = Client(enforce_csrf_checks=True)

    html, token = login_page(client, secure=True)

    assert ENGLISH not in html
    response = log_in(client, secure=True, token=token)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.cookies["sessionid"]["secure"] is True


def test_https_other_csrf_failures_keep_djangos_page(db, settings, admin_user):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    client = Client(enforce_csrf_checks=True)

    refused = log_in(client, secure=False, token=None)

    assert refused.status_code == 403
    page = refused.content.decode()
    assert ENGLISH not in page and "CSRF" in page
