"""ERP ticket sign-on (POST /api/auth/erp, orgsync/sso.py): a ticket the ERP signed with the
shared secret (HS256) or its private key (RS256, ES256) signs the person in once; every other
ticket is refused in the JSON error shape, logged without the ticket, and counted against the
login rate limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.db import connections
from rest_framework.test import APIClient

from orgsync.models import ActionLog, UsedErpTicket
from tests.messages.helpers import assert_error

ISSUER = "https://erp.example.com"
SECRET = "a shared secret of more than 32 bytes, for tests only"
ADDRESS = "10.9.8.7"


def private_pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Any) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="session")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def configure(settings, *, secret: str = "", public_key: bytes | None = None, tmp_path=None):
    key_file = ""
    if public_key is not None:
        path = Path(tmp_path) / "erp-public.pem"
        path.write_bytes(public_key)
        key_file = str(path)
    settings.MESSENGER_ERP = {
        **settings.MESSENGER_ERP,
        "ISSUER": ISSUER,
        "SECRET": secret,
        "PUBLIC_KEY_FILE": key_file,
    }


@pytest.fixture
def erp(settings, rsa_key, tmp_path):
    """The ERP configured both ways: the shared secret and an RSA public key."""
    configure(settings, secret=SECRET, public_key=public_pem(rsa_key), tmp_path=tmp_path)


def claims(sub: str = "alice", **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": "messenger",
        "sub": sub,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def hs256(sub: str = "alice", *, secret: str = SECRET, **changes: Any) -> str:
    return jwt.encode(claims(sub, **changes), secret, algorithm="HS256")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A ticket built by hand, as an attacker would: PyJWT refuses to make these."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{b64(signature)}"


def exchange(ticket: Any, **extra: Any):
    return APIClient().post(
        "/api/auth/erp", {"ticket": ticket, **extra}, format="json", REMOTE_ADDR=ADDRESS
    )


def test_erp_hs256_ticket_signs_the_person_in(erp, alice):
    response = exchange(hs256("alice"), kind="web")

    assert response.status_code == 200, response.content
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.get("/api/me").json()["user_id"] == "alice"
    entry = ActionLog.objects.get()
    assert (entry.user, entry.work, entry.state, entry.device) == (alice, "login", "ok", "web")
    assert entry.detail == f"{ADDRESS} erp alice"
    alice.refresh_from_db()
    assert alice.last_login is not None


def test_erp_rs256_ticket_signs_the_person_in(erp, rsa_key, alice):
    ticket = jwt.encode(claims("alice"), private_pem(rsa_key), algorithm="RS256")

    response = exchange(ticket)

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "refresh"}


def test_erp_es256_ticket_signs_the_person_in(settings, ec_key, tmp_path, alice):
    configure(settings, public_key=public_pem(ec_key), tmp_path=tmp_path)
    ticket = jwt.encode(claims("alice"), private_pem(ec_key), algorithm="ES256")

    assert exchange(ticket).status_code == 200


def test_erp_ticket_within_the_clock_skew_is_accepted(erp, alice):
    now = int(time.time())
    # The ERP's clock is 20 s ahead: issued "in the future", or already "expired" here.
    assert exchange(hs256(iat=now + 20, exp=now + 80)).status_code == 200
    assert exchange(hs256(iat=now - 80, exp=now - 20)).status_code == 200


def test_erp_ticket_is_accepted_once(erp, alice):
    ticket = hs256("alice")
    assert exchange(ticket).status_code == 200

    assert_error(exchange(ticket), 401, "ticket_used")

    refused = ActionLog.objects.filter(work="login_fail").get()
    assert (refused.user, refused.state) == (alice, "used")
    # Kept until well after the ticket's expiry.
    used = UsedErpTicket.objects.get()
    assert used.expires_at.timestamp() > time.time() + 3600
    assert ticket.split(".")[2] not in used.jti_hash


@pytest.mark.django_db(transaction=True)
def test_erp_ticket_sent_twice_at_once_signs_in_once(erp, alice):
    ticket = hs256("alice")
    statuses: list[int] = []
    start = threading.Barrier(4)

    def attempt() -> None:
        try:
            start.wait()
            statuses.append(exchange(ticket).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 401, 401, 401]


# Claims relative to now (seconds), so that collecting the tests long before running them
# changes nothing.
BAD_CLAIMS: dict[str, dict[str, Any]] = {
    "wrong issuer": {"iss": "https://evil.example.com"},
    "wrong audience": {"aud": "intranet"},
    "expired": {"iat": -400, "exp": -100},
    "lives longer than 5 minutes": {"iat": 0, "exp": 301},
    "issued in the future": {"iat": 120, "exp": 180},
    "no jti": {"jti": None},
    "no expiry": {"exp": None},
    "no issued-at": {"iat": None},
    "no audience": {"aud": None},
    "numeric subject": {"sub": 12345},
}


@pytest.mark.parametrize("changes", BAD_CLAIMS.values(), ids=BAD_CLAIMS.keys())
def test_erp_ticket_with_bad_claims_is_refused(erp, alice, changes):
    now = int(time.time())
    changes = {
        k: now + v if k in ("iat", "exp") and v is not None else v for k, v in changes.items()
    }
    ticket = forged({"alg": "HS256", "typ": "JWT"}, claims(**changes), SECRET.encode())

    error = assert_error(exchange(ticket), 401, "ticket_invalid")

    assert "ERP" in error["message"]
    entry = ActionLog.objects.get()
    assert (entry.user, entry.work, entry.state) == (None, "login_fail", "invalid")


def test_erp_ticket_signed_with_another_secret_is_refused(erp, alice):
    assert_error(exchange(hs256(secret="x" * 40)), 401, "ticket_invalid")


def test_erp_ticket_signed_by_another_key_is_refused(erp, alice):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ticket = jwt.encode(claims(), private_pem(stranger), algorithm="RS256")

    assert_error(exchange(ticket), 401, "ticket_invalid")


def test_erp_ticket_alg_none_is_refused(erp, alice):
    ticket = forged({"alg": "none", "typ": "JWT"}, claims(), None)

    assert_error(exchange(ticket), 401, "ticket_invalid")
    assert_error(exchange(ticket.rstrip(".") + "."), 401, "ticket_invalid")


def test_erp_ticket_hs256_signed_with_the_public_key_is_refused(settings, rsa_key, tmp_path, alice):
    # The classic confusion: the public key is public, so an attacker "signs" with it as an
    # HMAC secret. Only the public key is configured here, so HS256 has no key at all.
    configure(settings, public_key=public_pem(rsa_key), tmp_path=tmp_path)
    ticket = forged({"alg": "HS256", "typ": "JWT"}, claims(), public_pem(rsa_key))

    assert_error(exchange(ticket), 401, "ticket_invalid")


def test_erp_ticket_of_another_asymmetric_alg_is_refused(
    settings, ec_key, rsa_key, tmp_path, alice
):
    # An RSA key configured, an ES256 ticket; and an RS512 ticket, which is not on the list.
    configure(settings, public_key=public_pem(rsa_key), tmp_path=tmp_path)
    es256 = jwt.encode(claims(), private_pem(ec_key), algorithm="ES256")
    rs512 = jwt.encode(claims(), private_pem(rsa_key), algorithm="RS512")

    assert_error(exchange(es256), 401, "ticket_invalid")
    assert_error(exchange(rs512), 401, "ticket_invalid")


def test_erp_ticket_of_an_unknown_or_deactivated_person_is_refused(erp, alice):
    alice.is_active = False
    alice.save()

    assert_error(exchange(hs256("alice")), 401, "no_active_account")
    assert_error(exchange(hs256("nobody")), 401, "no_active_account")

    states = list(ActionLog.objects.order_by("pk").values_list("state", "detail"))
    assert states == [("inactive", f"{ADDRESS} erp alice"), ("unknown", f"{ADDRESS} erp nobody")]


@pytest.mark.parametrize("ticket", [None, "", "   ", 42, ["a.b.c"]])
def test_erp_request_without_a_ticket_is_invalid(erp, db, ticket):
    assert_error(exchange(ticket), 400, "invalid")
    assert not ActionLog.objects.exists()


def test_erp_ticket_that_is_not_a_jwt_is_refused(erp, db):
    assert_error(exchange("not.a.ticket"), 401, "ticket_invalid")
    assert_error(exchange("x" * 9000), 400, "invalid")


def test_erp_sign_on_is_404_when_not_configured(settings, alice):
    settings.MESSENGER_ERP = {**settings.MESSENGER_ERP, "ISSUER": "", "SECRET": ""}

    assert_error(exchange(hs256("alice")), 404, "not_configured")


def test_erp_failures_count_against_the_login_rate_limit(erp, settings, alice):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "3/15m"}
    for _ in range(3):
        assert_error(exchange(hs256(secret="y" * 40)), 401, "ticket_invalid")

    # Now even a good ticket from this address waits, and a password login too.
    assert_error(exchange(hs256("alice")), 429, "rate_limited")
    password = APIClient().post(
        "/api/auth/token",
        {"user_id": "alice", "password": "whatever"},
        format="json",
        REMOTE_ADDR=ADDRESS,
    )
    assert_error(password, 429, "rate_limited")
    assert ActionLog.objects.filter(state="locked").count() == 2


def test_erp_tickets_and_tokens_never_reach_the_log(erp, alice, caplog):
    caplog.set_level(logging.DEBUG)
    good = hs256("alice")
    bad = hs256(secret="z" * 40)

    tokens = exchange(good).json()
    exchange(good)
    exchange(bad)

    text = caplog.text + " ".join(ActionLog.objects.values_list("detail", flat=True))
    for secret in (good, bad, tokens["access"], tokens["refresh"]):
        for part in secret.split("."):
            assert part not in text


def test_erp_refusals_are_in_the_readers_language(erp, alice):
    ticket = hs256("alice")
    exchange(ticket)

    def refusal(language: str) -> str:
        response = APIClient().post(
            "/api/auth/erp", {"ticket": ticket}, format="json", HTTP_ACCEPT_LANGUAGE=language
        )
        return assert_error(response, 401, "ticket_used")["message"]

    assert refusal("ko-KR,ko;q=0.9") == "이미 사용한 로그인 티켓입니다. ERP에서 새 티켓을 받으세요."
    assert refusal("en-US") == (
        "This sign-on ticket has already been used. Ask the ERP for a new one."
    )
