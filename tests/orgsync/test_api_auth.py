"""Logging in (/api/auth/token) and the rule that every other /api/ call needs a valid token.

The list of calls is generated from the URL conf, so a new endpoint that forgets to require
authentication fails here without anyone having to remember to add it."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.conftest import token_for
from tests.factories import PASSWORD
from tests.messages.helpers import assert_error

# The only /api/ routes open without a token; the last is the catch-all that answers any
# unknown /api/ path with a JSON 404 (it serves nothing).
PUBLIC_ROUTES = {"api/auth/token", "api/auth/token/refresh", "api/schema", "api/docs", "api/^.*$"}
SOME_UUID = "0b6f3a52-6c1e-4f0e-9a39-5d2f0f7a8c11"


def _example_url(route: str) -> str:
    def value(match: re.Match) -> str:
        return "1" if match.group(1) == "int" else SOME_UUID

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", value, route)


def _api_calls() -> list[tuple[str, str, str]]:
    """(route, method, example URL) for every method of every view under /api/."""
    calls = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                if not route.startswith("api/"):
                    continue
                view = getattr(pattern.callback, "cls", None)
                if view is None:
                    # A plain Django view: try what a client would.
                    methods = ["get", "post", "put", "patch", "delete"]
                else:
                    methods = [
                        m
                        for m in view.http_method_names
                        if m not in ("options", "head") and hasattr(view, m)
                    ]
                calls.extend((route, method, _example_url(route)) for method in methods)

    walk(get_resolver().url_patterns, "")
    return calls


PROTECTED = [c for c in _api_calls() if c[0] not in PUBLIC_ROUTES]
PROTECTED_IDS = [f"{method.upper()} {route}" for route, method, _url in PROTECTED]


def test_api_calls_found_in_the_url_conf():
    routes = {route for route, _m, _u in _api_calls()}
    assert routes >= PUBLIC_ROUTES
    assert {"api/me", "api/rooms", "api/rooms/<int:room_id>/messages", "api/search"} <= routes


@pytest.mark.parametrize("path", ["/api/rooms/abc", "/api/nothing/here", "/api/rooms/1/x"])
def test_unknown_api_path_is_a_json_404(path):
    response = APIClient().get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method", "url"), PROTECTED, ids=PROTECTED_IDS)
def test_api_call_without_a_token_is_401(route, method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert_error(response, 401)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method", "url"), PROTECTED, ids=PROTECTED_IDS)
def test_api_call_with_a_bad_token_is_401(route, method, url):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    response = getattr(client, method)(url, {}, format="json")
    assert_error(response, 401)


@pytest.mark.django_db
def test_api_schema_and_docs_are_open_without_a_token():
    client = APIClient()
    assert client.get("/api/schema").status_code == 200
    assert client.get("/api/docs").status_code == 200


# --- tokens -----------------------------------------------------------------------------------


def test_auth_token_with_user_id_and_password_gives_working_tokens(alice):
    client = APIClient()

    response = client.post(
        "/api/auth/token", {"user_id": "alice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["user_id"] == "alice"

    refreshed = APIClient().post(
        "/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["access"]


def test_auth_token_with_a_wrong_password_is_401(alice):
    response = APIClient().post(
        "/api/auth/token", {"user_id": "alice", "password": "wrong"}, format="json"
    )
    assert_error(response, 401)
    assert "access" not in response.json()


def test_auth_token_for_an_unknown_user_is_401(db):
    response = APIClient().post(
        "/api/auth/token", {"user_id": "nobody", "password": PASSWORD}, format="json"
    )
    assert_error(response, 401)


@pytest.mark.parametrize(
    "payload",
    [{}, {"user_id": "alice"}, {"password": PASSWORD}, {"user_id": ["alice"], "password": "x"}],
    ids=repr,
)
def test_auth_token_with_missing_fields_is_400(alice, payload):
    assert_error(APIClient().post("/api/auth/token", payload, format="json"), 400)


def test_auth_token_refresh_without_a_token_is_400(db):
    error = assert_error(APIClient().post("/api/auth/token/refresh", {}, format="json"), 400)
    assert "refresh" in error["message"]


def test_auth_token_refresh_with_a_bad_token_is_401(db):
    response = APIClient().post("/api/auth/token/refresh", {"refresh": "garbage"}, format="json")
    assert_error(response, 401)


def test_auth_token_for_a_deactivated_user_is_401(alice):
    alice.is_active = False
    alice.save()
    response = APIClient().post(
        "/api/auth/token", {"user_id": "alice", "password": PASSWORD}, format="json"
    )
    assert_error(response, 401)


def test_auth_existing_tokens_of_a_deactivated_user_are_refused(api, alice):
    client = api(alice)
    refresh = (
        APIClient()
        .post("/api/auth/token", {"user_id": "alice", "password": PASSWORD}, format="json")
        .json()["refresh"]
    )
    assert client.get("/api/me").status_code == 200

    alice.is_active = False
    alice.save()

    assert_error(client.get("/api/me"), 401)
    assert_error(client.get("/api/rooms"), 401)
    refreshed = APIClient().post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert_error(refreshed, 401)


def test_auth_token_of_one_user_acts_as_that_user_only(api, alice, bob):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}")
    assert client.get("/api/me").json()["user_id"] == "bob"
