"""The push subscription calls, the VAPID public key, and the notification fields of /api/me."""

from __future__ import annotations

import base64
import os

import pytest

from notifications.models import WebPushSubscription


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def subscription(endpoint: str) -> dict:
    return {
        "endpoint": endpoint,
        "keys": {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(16))},
    }


@pytest.fixture
def keys_in(settings, tmp_path):
    settings.NOTIFICATIONS = settings.NOTIFICATIONS | {
        "VAPID_PRIVATE_KEY": "",
        "VAPID_PUBLIC_KEY": "",
        "VAPID_KEY_FILE": tmp_path / "vapid.pem",
    }
    return tmp_path / "vapid.pem"


def test_push_subscription_add_and_remove(api, bob):
    body = subscription("https://push.example.com/v1/abc")
    assert api(bob).post("/api/push/subscriptions", body, format="json").status_code == 201
    # The same browser again refreshes its keys rather than adding a row.
    again = subscription("https://push.example.com/v1/abc")
    assert api(bob).post("/api/push/subscriptions", again, format="json").status_code == 201
    row = WebPushSubscription.objects.get(user=bob)
    assert row.p256dh == again["keys"]["p256dh"]
    response = api(bob).delete(
        "/api/push/subscriptions", {"endpoint": body["endpoint"]}, format="json"
    )
    assert response.status_code == 204
    assert not WebPushSubscription.objects.exists()


def test_push_subscription_moves_to_the_new_login(api, alice, bob):
    body = subscription("https://push.example.com/v1/shared")
    api(alice).post("/api/push/subscriptions", body, format="json")
    api(bob).post("/api/push/subscriptions", body, format="json")
    assert WebPushSubscription.objects.get().user == bob


def test_push_subscription_remove_only_mine(api, alice, bob):
    body = subscription("https://push.example.com/v1/mine")
    api(alice).post("/api/push/subscriptions", body, format="json")
    api(bob).delete("/api/push/subscriptions", {"endpoint": body["endpoint"]}, format="json")
    assert WebPushSubscription.objects.filter(user=alice).exists()


@pytest.mark.parametrize(
    ("endpoint", "debug", "ok"),
    [
        ("https://push.example.com/x", False, True),
        ("http://push.example.com/x", False, False),
        ("http://127.0.0.1:8765/x", False, False),
        ("http://127.0.0.1:8765/x", True, True),
        ("http://localhost:8765/x", True, False),
        ("ftp://push.example.com/x", True, False),
        ("https:///x", False, False),
        # The server POSTs to the endpoint: never to its own network (SSRF).
        ("https://internal-push.example.com/x", False, False),
        ("https://rebind-push.example.com/x", True, False),
        ("https://localhost/x", True, False),
        ("https://10.0.0.8/x", False, False),
        ("https://[::1]/x", False, False),
    ],
)
def test_push_subscription_endpoint_rules(api, bob, settings, endpoint, debug, ok):
    settings.DEBUG = debug
    response = api(bob).post("/api/push/subscriptions", subscription(endpoint), format="json")
    assert response.status_code == (201 if ok else 400)
    if not ok:
        assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    "keys",
    [
        {"p256dh": b64url(os.urandom(10)), "auth": b64url(os.urandom(16))},
        {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(5))},
        {"p256dh": "not base64!", "auth": b64url(os.urandom(16))},
        {"auth": b64url(os.urandom(16))},
    ],
)
def test_push_subscription_bad_keys(api, bob, keys):
    body = {"endpoint": "https://push.example.com/x", "keys": keys}
    response = api(bob).post("/api/push/subscriptions", body, format="json")
    assert response.status_code == 400
    assert not WebPushSubscription.objects.exists()


def test_vapid_public_key_generated_for_embedded_default(api, bob, settings, keys_in):
    settings.DEBUG = True
    first = api(bob).get("/api/push/vapid-public-key").json()["public_key"]
    assert keys_in.exists()
    assert len(base64.urlsafe_b64decode(first + "=")) == 65
    assert api(bob).get("/api/push/vapid-public-key").json()["public_key"] == first


def test_vapid_public_key_absent_in_production(api, bob, settings, keys_in):
    settings.DEBUG = False
    response = api(bob).get("/api/push/vapid-public-key")
    assert response.status_code == 404
    assert not keys_in.exists()


def test_me_time_zone_and_mentions(api, bob):
    me = api(bob).get("/api/me").json()
    assert (me["time_zone"], me["notify_mentions"]) == ("Asia/Seoul", True)
    response = api(bob).patch(
        "/api/me", {"time_zone": "Europe/Berlin", "notify_mentions": False}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["time_zone"], response.json()["notify_mentions"]) == (
        "Europe/Berlin",
        False,
    )
    bob.refresh_from_db()
    assert bob.time_zone == "Europe/Berlin"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "x" * 65])
def test_me_time_zone_refused(api, bob, zone):
    response = api(bob).patch("/api/me", {"time_zone": zone}, format="json")
    assert response.status_code == 400
    bob.refresh_from_db()
    assert bob.time_zone == "Asia/Seoul"
