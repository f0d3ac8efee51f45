"""Every login attempt through /api/auth/token lands in the action log, refused ones with why."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from orgsync.models import ActionLog
from tests.factories import PASSWORD
from tests.messages.helpers import assert_error


def login(user_id, password, **extra):
    return APIClient().post(
        "/api/auth/token",
        {"user_id": user_id, "password": password, **extra},
        format="json",
        REMOTE_ADDR="10.1.2.3",
    )


def test_login_success_is_logged_with_device_and_address(alice):
    response = login("alice", PASSWORD, kind="mobile")

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    entry = ActionLog.objects.get()
    assert (entry.user, entry.work, entry.state, entry.device) == (alice, "login", "ok", "mobile")
    assert entry.detail == "10.1.2.3 alice"
    alice.refresh_from_db()
    assert alice.last_login is not None


def test_login_with_a_wrong_password_is_logged_against_the_account(alice):
    assert_error(login("alice", "wrong-password"), 401)

    entry = ActionLog.objects.get()
    assert (entry.user, entry.work, entry.state) == (alice, "login_fail", "password")
    assert "wrong-password" not in entry.detail


def test_login_for_an_unknown_account_is_logged_with_the_id_tried(db):
    assert_error(login("mallory", "x"), 401)

    entry = ActionLog.objects.get()
    assert (entry.user, entry.work, entry.state) == (None, "login_fail", "unknown")
    assert entry.detail == "10.1.2.3 mallory"


def test_login_of_a_deactivated_account_is_logged_as_inactive(alice):
    alice.is_active = False
    alice.save()

    assert_error(login("alice", PASSWORD), 401)

    entry = ActionLog.objects.get()
    assert (entry.user, entry.state) == (alice, "inactive")


def test_login_with_an_unknown_device_kind_logs_no_device(alice):
    login("alice", PASSWORD, kind="<script>")
    assert ActionLog.objects.get().device == ""


def test_login_with_a_huge_user_id_is_logged_cut_short(db):
    assert_error(login("x" * 5000, "y"), 401)
    assert len(ActionLog.objects.get().detail) <= 200


@pytest.mark.parametrize(
    "payload", [{}, {"user_id": "alice"}, {"password": "x"}, ["alice"]], ids=repr
)
def test_login_malformed_request_is_400_and_not_an_attempt(alice, payload):
    response = APIClient().post("/api/auth/token", payload, format="json")
    assert_error(response, 400)
    assert not ActionLog.objects.exists()


def test_login_log_is_filterable_in_admin(admin_client, alice):
    login("alice", PASSWORD)
    login("alice", "nope")

    page = admin_client.get("/admin/orgsync/actionlog/", {"work": "login_fail"})

    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
