"""Delivery of alerts: Web Push to a local push endpoint (VAPID-signed, aes128gcm-encrypted),
410 forgets the subscription, a burst becomes one alert, system lines stay silent, and the
`notify` push reaches connected clients only when they are not looking at the room."""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from messages import services as message_services
from messages.models import Message
from messenger import presence
from notifications import services, signals
from notifications.mobile import LoggingBackend
from notifications.models import WebPushSubscription
from notifications.rules import HIDDEN_BODY
from rooms.models import RoomMember
from tests.conftest import send


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push service on 127.0.0.1 that records each request and answers `status`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 201
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                service.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_service():
    service = PushService()
    yield service
    service.close()


@pytest.fixture
def vapid_settings(settings, tmp_path):
    settings.DEBUG = True
    settings.NOTIFICATIONS = settings.NOTIFICATIONS | {
        "VAPID_PRIVATE_KEY": "",
        "VAPID_PUBLIC_KEY": "",
        "VAPID_SUBJECT": "mailto:ops@example.com",
        "VAPID_KEY_FILE": tmp_path / "vapid.pem",
    }
    return settings


class Browser:
    """A browser's push subscription: its key pair and auth secret, as PushManager makes."""

    def __init__(self, endpoint: str) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = endpoint
        public = self.private_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        self.json = {
            "endpoint": endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def alert_after_window(message_pk: int) -> list[dict[str, Any]]:
    """What a worker does: run the rule now, flush each opened window after it."""
    return [
        data
        for user_pk, room_id in services.message_notify(message_pk=message_pk)
        if (data := services.batch_flush(user_pk=user_pk, room_id=room_id)) is not None
    ]


def message_pk(payload: dict[str, Any]) -> int:
    return Message.objects.get(msg_id=payload["msg_id"]).pk


def test_webpush_signed_encrypted_and_filtered(
    api, alice, bob, direct, push_service, vapid_settings
):
    browser = Browser(f"{push_service.origin}/push/bob-1")
    response = api(bob).post("/api/push/subscriptions", browser.json, format="json")
    assert response.status_code == 201
    public_key = api(bob).get("/api/push/vapid-public-key").json()["public_key"]
    bob.hide_body = True
    bob.save()

    payload = send(alice, direct.pk, "급여 명세서 첨부합니다")
    assert len(alert_after_window(message_pk(payload))) == 1

    [request] = push_service.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert request["path"] == "/push/bob-1"
    assert headers["content-encoding"] == "aes128gcm"
    assert int(headers["ttl"]) > 0
    scheme, _sep, params = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b64url_decode(public_key)
    )
    claims = jwt.decode(fields["t"], verifier, algorithms=["ES256"], audience=push_service.origin)
    assert claims["sub"] == "mailto:ops@example.com"

    content = browser.decrypt(request["body"])
    assert content["title"] == "앨리스"
    assert content["body"] == HIDDEN_BODY
    assert "급여" not in json.dumps(content, ensure_ascii=False)
    assert (content["room_id"], content["seq"], content["count"]) == (direct.pk, payload["seq"], 1)
    assert WebPushSubscription.objects.get(user=bob).last_sent_at is not None


def test_webpush_hides_sender(api, alice, bob, direct, push_service, vapid_settings):
    browser = Browser(f"{push_service.origin}/push/bob-2")
    api(bob).post("/api/push/subscriptions", browser.json, format="json")
    bob.hide_sender = True
    bob.save()
    alert_after_window(message_pk(send(alice, direct.pk, "점심?")))
    content = browser.decrypt(push_service.requests[0]["body"])
    assert (content["title"], content["body"]) == ("메신저", "점심?")


def test_webpush_410_removes_subscription(api, alice, bob, direct, push_service, vapid_settings):
    browser = Browser(f"{push_service.origin}/push/gone")
    api(bob).post("/api/push/subscriptions", browser.json, format="json")
    push_service.status = 410
    alert_after_window(message_pk(send(alice, direct.pk, "hello")))
    assert len(push_service.requests) == 1
    assert not WebPushSubscription.objects.filter(user=bob).exists()


def test_webpush_never_posts_to_a_private_address_even_if_stored(
    alice, bob, direct, vapid_settings, settings, monkeypatch
):
    # A row that names an internal host (written before a DNS change, or by hand) is
    # re-checked at each send and skipped; the local push service sees nothing.
    browser = Browser("https://internal-push.example.com/push/x")
    keys = browser.json["keys"]
    WebPushSubscription.objects.create(
        user=bob, endpoint=browser.json["endpoint"], p256dh=keys["p256dh"], auth=keys["auth"]
    )
    settings.DEBUG = False
    attempts: list[str] = []
    monkeypatch.setattr(
        services.webpush, "send", lambda *, endpoint, **kwargs: attempts.append(endpoint)
    )
    assert services.webpush_send_all(user=bob, data={"room_id": direct.pk, "title": "t"}) == 0
    assert attempts == []


def test_webpush_other_failure_keeps_subscription(
    api, alice, bob, direct, push_service, vapid_settings
):
    browser = Browser(f"{push_service.origin}/push/busy")
    api(bob).post("/api/push/subscriptions", browser.json, format="json")
    push_service.status = 503
    alert_after_window(message_pk(send(alice, direct.pk, "hello")))
    assert WebPushSubscription.objects.filter(user=bob).exists()


def test_offline_user_goes_to_mobile_backend(alice, bob, direct, monkeypatch):
    sent: list[tuple[int, dict[str, Any]]] = []
    monkeypatch.setattr(
        LoggingBackend,
        "send",
        lambda self, *, user_pk, notification: sent.append((user_pk, notification)),
    )
    alert_after_window(message_pk(send(alice, direct.pk, "hello")))
    assert [(pk, data["body"]) for pk, data in sent] == [(bob.pk, "hello")]


def test_burst_of_20_gives_one_notification(alice, bob, carol, group, pushes):
    presence.presence_mark(user_pk=bob.pk, kind="web", conn_id="c1")
    opened: list[tuple[int, int]] = []
    for i in range(20):
        opened += services.message_notify(message_pk=message_pk(send(alice, group.pk, f"m{i}")))
    # Each of bob and carol got one window; the other 19 messages folded into it.
    assert sorted(opened) == sorted([(bob.pk, group.pk), (carol.pk, group.pk)])
    for user_pk, room_id in opened:
        services.batch_flush(user_pk=user_pk, room_id=room_id)
    notifies = pushes.of("notify")
    assert len(notifies) == 1
    [(users, data)] = notifies
    assert users == [bob.pk]
    assert data["count"] == 20
    assert data["seq"] == Message.objects.filter(room=group).order_by("-seq").first().seq
    assert data["body"] == "(20) m19"


def test_window_closes_then_next_message_alerts_again(alice, bob, direct, pushes):
    presence.presence_mark(user_pk=bob.pk, kind="web", conn_id="c1")
    for body in ("one", "two"):
        alert_after_window(message_pk(send(alice, direct.pk, body)))
    assert [data["body"] for _users, data in pushes.of("notify")] == ["one", "two"]


def test_mobile_alert_skipped_when_read_before_window_ends(alice, bob, direct, pushes):
    presence.presence_mark(user_pk=bob.pk, kind="mobile", conn_id="m1")
    payload = send(alice, direct.pk, "hello")
    opened = services.message_notify(message_pk=message_pk(payload))
    message_services.room_read(actor=bob, room_id=direct.pk, seq=payload["seq"])
    for user_pk, room_id in opened:
        assert services.batch_flush(user_pk=user_pk, room_id=room_id) is None
    assert pushes.of("notify") == []


def test_system_lines_never_notify(
    alice, bob, dave, group, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(
        signals.message_notify, "apply_async", lambda args, **options: queued.append(args[0])
    )
    presence.presence_mark(user_pk=bob.pk, kind="web", conn_id="c1")
    with django_capture_on_commit_callbacks(execute=True):
        _room, line = message_services.room_invite(actor=alice, room_id=group.pk, user_ids=["dave"])
    assert line is not None
    assert queued == []
    assert services.message_notify(message_pk=message_pk(line)) == []
    with django_capture_on_commit_callbacks(execute=True):
        talk = send(alice, group.pk, "hello")
    assert queued == [[message_pk(talk)]]


def test_sender_and_muted_members_not_alerted(alice, bob, carol, group, pushes):
    RoomMember.objects.filter(room=group, user=carol).update(muted=True)
    opened = services.message_notify(message_pk=message_pk(send(alice, group.pk, "hi")))
    assert opened == [(bob.pk, group.pk)]
    opened = services.message_notify(message_pk=message_pk(send(alice, group.pk, "@carol 봐")))
    assert (carol.pk, group.pk) in opened
