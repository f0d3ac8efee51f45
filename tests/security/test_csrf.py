"""CSRF: the REST API authenticates by bearer token only, so a cross-site request that carries
the admin's session cookie is anonymous there; the admin's own forms need their CSRF token."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.test import APIClient

from orgsync.models import User
from rooms.models import Room
from tests.conftest import token_for
from tests.factories import PASSWORD
from tests.messages.helpers import assert_error

EVIL = "https://evil.example.net"


@pytest.fixture
def staff(alice) -> User:
    alice.is_staff = alice.is_superuser = True
    alice.save()
    return alice


def admin_session(user: User) -> Client:
    """A browser with the admin's session, logged in through the real form (CSRF checked)."""
    browser = Client(enforce_csrf_checks=True)
    browser.get("/admin/login/")
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": user.user_id, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302, response.content[:300]
    assert browser.get("/admin/").status_code == 200
    return browser


def test_csrf_session_cookie_does_not_authenticate_the_api(staff, bob):
    browser = admin_session(staff)

    # What a page on another site could make the admin's browser send: the session cookie,
    # no CSRF token, no bearer token.
    create = browser.post(
        "/api/rooms",
        {"member_ids": [bob.user_id]},
        content_type="application/json",
        HTTP_ORIGIN=EVIL,
    )
    me = browser.get("/api/me", HTTP_ORIGIN=EVIL)

    assert_error(create, 401, "not_authenticated")
    assert_error(me, 401, "not_authenticated")
    assert Room.objects.count() == 0


def _api_views(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if view is not None:
                yield prefix + str(pattern.pattern), view


def test_csrf_no_api_view_accepts_cookie_or_basic_authentication():
    """A view that accepted the session (or Basic) would need CSRF protection on every call;
    the API takes bearer tokens only."""
    views = list(_api_views(get_resolver().url_patterns))
    assert any(path.startswith("api/rooms") for path, _ in views)
    for path, view in views:
        classes = view().get_authenticators()
        for authenticator in classes:
            assert not isinstance(authenticator, SessionAuthentication | BasicAuthentication), path


def test_csrf_admin_login_without_its_token_is_refused(staff):
    browser = Client(enforce_csrf_checks=True)

    response = browser.post(
        "/admin/login/", {"username": staff.user_id, "password": PASSWORD}, HTTP_ORIGIN=EVIL
    )

    assert response.status_code == 403
    assert "CSRF" in response.content.decode()
    assert "sessionid" not in browser.cookies


def test_csrf_admin_change_without_its_token_is_refused(staff, bob):
    browser = admin_session(staff)

    response = browser.post(
        f"/admin/orgsync/user/{bob.pk}/change/",
        {"name": "hijacked", "user_id": bob.user_id},
        HTTP_ORIGIN=EVIL,
    )

    assert response.status_code == 403
    bob.refresh_from_db()
    assert bob.name != "hijacked"


def test_csrf_client_login_api_works_with_csrf_checks_on_and_sets_no_cookie(alice):
    client = APIClient(enforce_csrf_checks=True)

    response = client.post(
        "/api/auth/token", {"user_id": "alice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert {"access", "refresh"} <= set(response.json())
    # A login posted from another site leaves nothing behind in the browser.
    assert not response.cookies


def test_csrf_bearer_calls_need_no_csrf_token(alice, bob):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")

    response = client.post("/api/rooms", {"member_ids": [bob.user_id]}, format="json")

    assert response.status_code == 201


def test_csrf_post_to_an_unknown_api_path_is_not_found_in_the_api_shape(db):
    response = Client(enforce_csrf_checks=True).post("/api/no-such-thing", {})

    assert_error(response, 404, "not_found")
