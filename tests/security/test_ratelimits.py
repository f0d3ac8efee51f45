"""Rate limits (messenger/ratelimit.py): one counter per scope shared by REST and the socket,
429 with Retry-After on REST, the same error in the socket's ack, configured by settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from filetransfer.models import FileLog
from messages import services as message_services
from messages.models import Message
from messenger import ratelimit
from orgsync.models import ActionLog
from tests.factories import PASSWORD, UserFactory
from tests.filetransfer.conftest import multipart, png
from tests.gateway.conftest import connect
from tests.messages.helpers import assert_error

REPO = Path(__file__).resolve().parents[2]


def limits(**scopes: str) -> dict[str, object]:
    return {**django_settings.RATE_LIMITS, **scopes}


def post_message(client, room_id: int, body: str = "hi", msg_id: str | None = None):
    return client.post(
        f"/api/rooms/{room_id}/messages",
        {"msg_id": msg_id or str(uuid.uuid4()), "body": body},
        format="json",
    )


def talks(room_id: int) -> int:
    return Message.objects.filter(room_id=room_id, type="talk").count()


def assert_rate_limited(response, *, most: int) -> dict:
    error = assert_error(response, 429, "rate_limited")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= most
    assert error["detail"] == {"retry_after": retry_after}
    assert f"try again in {retry_after} s" in error["message"]
    return error


# --- send ----------------------------------------------------------------------------------


def test_ratelimit_send_rest_refuses_past_the_rate_with_retry_after(settings, api, alice, direct):
    settings.RATE_LIMITS = limits(send="3/60s")
    client = api(alice)
    sent = [post_message(client, direct.pk, f"m{n}") for n in range(3)]
    assert [r.status_code for r in sent] == [201, 201, 201]

    refused = post_message(client, direct.pk, "one too many")

    error = assert_rate_limited(refused, most=60)
    assert "at most 3 per 1 min" in error["message"]
    assert talks(direct.pk) == 3
    # A retry of a stored message is answered from the store, not counted or refused.
    again = post_message(client, direct.pk, "m0", msg_id=sent[0].json()["msg_id"])
    assert again.status_code == 200


def test_ratelimit_send_is_per_person(settings, api, alice, bob, direct):
    settings.RATE_LIMITS = limits(send="1/60s")
    assert post_message(api(alice), direct.pk).status_code == 201
    assert post_message(api(bob), direct.pk).status_code == 201
    assert_rate_limited(post_message(api(alice), direct.pk), most=60)


def test_ratelimit_send_window_reopens_after_its_period(settings, api, alice, direct):
    settings.RATE_LIMITS = limits(send="1/1s")
    client = api(alice)
    assert post_message(client, direct.pk).status_code == 201
    assert_rate_limited(post_message(client, direct.pk), most=1)
    time.sleep(1.2)
    assert post_message(client, direct.pk).status_code == 201


@pytest.mark.django_db(transaction=True)
async def test_ratelimit_send_counts_rest_and_socket_together():
    alice, bob = (
        await sync_to_async(UserFactory)(user_id="alice"),
        await sync_to_async(UserFactory)(user_id="bob"),
    )
    room, _ = await sync_to_async(message_services.room_open_direct)(actor=alice, peer=bob)
    with override_settings(RATE_LIMITS=limits(send="2/60s")):
        from rest_framework.test import APIClient

        from tests.conftest import token_for

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
        first = await sync_to_async(post_message)(client, room.pk)
        assert first.status_code == 201
        socket = await connect(alice)
        try:
            ok = await socket.request(
                "send_msg", {"room_id": room.pk, "msg_id": str(uuid.uuid4()), "body": "ws"}
            )
            assert ok["ok"] is True
            refused = await socket.request(
                "send_msg", {"room_id": room.pk, "msg_id": str(uuid.uuid4()), "body": "ws 2"}
            )
            rest_refused = await sync_to_async(post_message)(client, room.pk)
        finally:
            await socket.ws.disconnect()
    assert refused["ok"] is False
    error = refused["error"]
    assert error["code"] == "rate_limited"
    assert 1 <= error["detail"]["retry_after"] <= 60
    # The same code and message on both transports.
    rest_error = assert_rate_limited(rest_refused, most=60)
    assert rest_error["message"].split(";")[0] == error["message"].split(";")[0]
    assert await sync_to_async(talks)(room.pk) == 2


def test_ratelimit_counters_live_in_the_shared_redis(settings, alice):
    """Every server process counts in the same place: the counter is in Redis, not in this
    process's memory."""
    if not settings.REDIS_URL:
        pytest.skip("runs on Redis")
    ratelimit.rate_limit_hit(scope="send", key=alice.pk)
    raw = redis.Redis.from_url(settings.REDIS_URL)
    key = cache.make_key(f"ratelimit:send:{alice.pk}:n")
    assert int(raw.get(key)) == 1
    assert 0 < raw.ttl(key) <= ratelimit.parse_rate(settings.RATE_LIMITS["send"]).seconds


# --- typing --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_ratelimit_typing_follows_its_setting_per_room():
    alice, bob = (
        await sync_to_async(UserFactory)(user_id="alice"),
        await sync_to_async(UserFactory)(user_id="bob"),
    )
    room, _ = await sync_to_async(message_services.room_open_direct)(actor=alice, peer=bob)
    await sync_to_async(UserFactory)(user_id="carol")
    other, _ = await sync_to_async(message_services.room_create)(
        actor=alice, member_ids=["bob", "carol"], name="other"
    )
    with override_settings(RATE_LIMITS=limits(typing="2/60s")):
        socket = await connect(alice)
        try:
            answers = [await socket.request("typing", {"room_id": room.pk}) for _ in range(3)]
            elsewhere = await socket.request("typing", {"room_id": other.pk})
        finally:
            await socket.ws.disconnect()
    # Two per minute as configured (the old hard-wired rule refused the second at once).
    assert [a["ok"] for a in answers] == [True, True, False]
    assert answers[2]["error"]["code"] == "rate_limited"
    assert "typing" in answers[2]["error"]["message"]
    assert elsewhere["ok"] is True


# --- uploads -------------------------------------------------------------------------------


def test_ratelimit_upload_refuses_past_the_rate_and_stores_nothing(
    settings, tmp_path, api, alice, direct
):
    settings.MEDIA_ROOT = tmp_path
    settings.RATE_LIMITS = limits(upload="1/60s")

    def upload():
        body, content_type = multipart([("a.png", png())], [str(uuid.uuid4())])
        return api(alice).post(
            f"/api/rooms/{direct.pk}/files", data=body, content_type=content_type
        )

    assert upload().status_code == 201
    assert_rate_limited(upload(), most=60)
    assert FileLog.objects.count() == 1


# --- logins --------------------------------------------------------------------------------


def login(client, user_id: str, password: str, address: str = "10.9.8.7"):
    return client.post(
        "/api/auth/token",
        {"user_id": user_id, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_ratelimit_login_locks_the_account_after_failures(settings, fast_hashing, alice, bob):
    from rest_framework.test import APIClient

    settings.RATE_LIMITS = limits(login_user="3/15m", login_ip="100/15m")
    client = APIClient()
    for _ in range(3):
        assert_error(login(client, "alice", "wrong"), 401)

    # Locked: even the right password is refused, without being tried, and it is logged.
    locked = login(client, "alice", PASSWORD)
    error = assert_rate_limited(locked, most=900)
    assert "failed logins for this account" in error["message"]
    entry = ActionLog.objects.order_by("-pk").first()
    assert (entry.user, entry.work, entry.state) == (alice, "login_fail", "locked")
    # The id in another case is the same account.
    assert_rate_limited(login(client, "ALICE", PASSWORD), most=900)
    # Others still log in from the same address.
    assert login(client, "bob", PASSWORD).status_code == 200


def test_ratelimit_login_limits_failures_per_address(settings, fast_hashing, alice):
    from rest_framework.test import APIClient

    settings.RATE_LIMITS = limits(login_user="100/15m", login_ip="3/15m")
    client = APIClient()
    for name in ("mallory", "trent", "eve"):
        assert_error(login(client, name, "guess", address="10.6.6.6"), 401)

    refused = login(client, "alice", PASSWORD, address="10.6.6.6")
    assert "failed logins from this address" in assert_rate_limited(refused, most=900)["message"]
    assert login(client, "alice", PASSWORD, address="10.1.1.1").status_code == 200


def test_ratelimit_login_success_forgets_the_account_failures(settings, fast_hashing, alice):
    from rest_framework.test import APIClient

    settings.RATE_LIMITS = limits(login_user="3/15m", login_ip="100/15m")
    client = APIClient()
    for _ in range(2):
        assert_error(login(client, "alice", "wrong"), 401)
    assert login(client, "alice", PASSWORD).status_code == 200
    for _ in range(2):
        assert_error(login(client, "alice", "wrong"), 401)
    assert login(client, "alice", PASSWORD).status_code == 200


def test_ratelimit_default_login_rate_stops_brute_force(settings, fast_hashing, alice):
    from rest_framework.test import APIClient

    per_user = ratelimit.parse_rate(settings.RATE_LIMITS["login_user"])
    assert per_user.count <= 10 and per_user.seconds >= 15 * 60
    client = APIClient()
    answers = [login(client, "alice", f"guess{n}").status_code for n in range(per_user.count + 2)]
    assert answers == [401] * per_user.count + [429, 429]


# --- configuration -------------------------------------------------------------------------


def test_ratelimit_off_switches(settings, api, alice, direct):
    settings.RATE_LIMITS = limits(send="off")
    client = api(alice)
    assert all(post_message(client, direct.pk).status_code == 201 for _ in range(3))
    settings.RATE_LIMITS = limits(send="1/60s", ENABLED=False)
    assert all(post_message(client, direct.pk).status_code == 201 for _ in range(3))


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("120/60s", ratelimit.Rate(120, 60)),
        ("10/15m", ratelimit.Rate(10, 900)),
        ("1/2s", ratelimit.Rate(1, 2)),
        ("5/h", ratelimit.Rate(5, 3600)),
        ("30/min", ratelimit.Rate(30, 60)),
        ("off", None),
        ("0/60s", None),
        ("", None),
    ],
)
def test_ratelimit_parse_rate(text, rate):
    assert ratelimit.parse_rate(text) == rate


@pytest.mark.parametrize("text", ["ten/60s", "10/15x", "10", "10/0s"])
def test_ratelimit_parse_rate_refuses_nonsense(text):
    with pytest.raises(ImproperlyConfigured):
        ratelimit.parse_rate(text)


def test_ratelimit_settings_come_from_the_environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESSENGER_RATE", "DJANGO_"))}
    env.update(MESSENGER_RATE_SEND="5/10s", MESSENGER_RATE_LOGIN_USER="3/1h")
    script = "import json; from messenger import settings as s; print(json.dumps(s.RATE_LIMITS))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    conf = json.loads(out.stdout)
    assert conf["send"] == "5/10s" and conf["login_user"] == "3/1h"
    assert conf["ENABLED"] is True
