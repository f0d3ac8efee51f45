"""Logging in (/api/auth/token), refreshing, and the answers of /api/ paths that serve nothing.

That every other /api/ call needs a valid token of an active account is checked, call by call
from the URL conf, by the authorisation matrix (tests/security/test_authz_matrix.py)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.conftest import token_for
from tests.factories import PASSWORD
from tests.messages.helpers import assert_error


@pytest.mark.parametrize("path", ["/api/rooms/abc", "/api/nothing/here", "/api/rooms/1/x"])
def test_unknown_api_path_is_a_json_404(path):
    response = APIClient().get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


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
