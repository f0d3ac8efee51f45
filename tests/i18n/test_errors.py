"""Server errors in the reader's language: Korean and English, over REST and the socket."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from django.utils import translation

from messenger.asgi import application
from messenger.errors import ApplicationError
from tests.conftest import token_for
from tests.gateway.conftest import Client

PO = Path(__file__).resolve().parents[2] / "locale" / "ko" / "LC_MESSAGES" / "django.po"


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_catalogue_every_message_translated():
    text = PO.read_text(encoding="utf-8")
    untranslated = re.findall(r'^msgid "(.+)"\nmsgstr ""\n(?!")', text, flags=re.M)
    assert untranslated == []
    assert "#, fuzzy" not in text


def test_every_error_type_has_a_korean_default_message():
    import filetransfer.errors  # noqa: F401  (the apps' error types)

    for cls in [ApplicationError, *_subclasses(ApplicationError)]:
        with translation.override("en"):
            english = str(cls.message)
        with translation.override("ko"):
            korean = str(cls.message)
        assert korean != english, f"{cls.__name__}: no Korean message for {english!r}"
        assert re.search(r"[가-힣]", korean), cls.__name__


@pytest.mark.django_db
def test_login_refusal_in_the_requests_language(api, alice):
    body = {"user_id": "alice", "password": "wrong"}
    korean = api().post(
        "/api/auth/token", body, format="json", HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9"
    )
    english = api().post("/api/auth/token", body, format="json", HTTP_ACCEPT_LANGUAGE="en-US")
    assert korean.status_code == english.status_code == 401
    assert (
        korean.json()["error"]["message"]
        == "아이디 또는 비밀번호가 맞지 않거나 사용할 수 없는 계정입니다."
    )
    assert (
        english.json()["error"]["message"] == "No active account found with the given credentials"
    )
    assert korean.json()["error"]["code"] == english.json()["error"]["code"]
    assert korean["Content-Language"] == "ko"


@pytest.mark.django_db
def test_without_a_language_answers_are_english(api):
    assert api().get("/api/me", HTTP_ACCEPT_LANGUAGE="ko").json()["error"]["message"] == (
        "로그인 정보가 없습니다. 먼저 로그인하세요."
    )
    # No Accept-Language (a script, another system): English.
    assert api().get("/api/me").json()["error"]["message"] == (
        "Authentication credentials were not provided."
    )


@pytest.mark.django_db
@override_settings(
    RATE_LIMITS={"ENABLED": True, "login_user": "2/60s", "login_ip": "off"},
)
def test_rate_limit_message_carries_its_figures_in_korean(api, alice):
    body = {"user_id": "alice", "password": "wrong"}
    for _ in range(2):
        api().post("/api/auth/token", body, format="json")
    refused = api().post("/api/auth/token", body, format="json", HTTP_ACCEPT_LANGUAGE="ko")
    assert refused.status_code == 429
    retry = refused.json()["error"]["detail"]["retry_after"]
    assert refused.json()["error"]["message"] == (
        f"이 계정의 로그인 실패 횟수가 너무 많습니다. 1분에 2번까지 가능합니다. "
        f"{retry}초 후에 다시 시도하세요."
    )


async def _socket(user, *, query: str = "", headers=()) -> Client:
    communicator = WebsocketCommunicator(
        application, f"/ws/?token={token_for(user)}{query or '&kind=web'}", headers=list(headers)
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return Client(communicator)


@pytest.mark.django_db(transaction=True)
async def test_socket_error_acks_in_the_sockets_language(alice):
    korean = await _socket(alice, headers=[(b"accept-language", b"ko-KR,ko;q=0.9,en;q=0.8")])
    english = await _socket(
        alice, query="&kind=mobile&lang=en", headers=[(b"accept-language", b"ko-KR")]
    )
    try:
        ack = await korean.request("no_such_event")
        assert ack["ok"] is False
        assert ack["error"]["message"].startswith("알 수 없는 이벤트입니다. 가능한 이벤트: ")
        assert "send_msg" in ack["error"]["message"]
        ack = await english.request("no_such_event")
        assert ack["error"]["message"].startswith("Unknown event. Known events: ")
    finally:
        await korean.ws.disconnect()
        await english.ws.disconnect()
