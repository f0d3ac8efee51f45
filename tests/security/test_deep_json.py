"""Deeply nested JSON (a 2.2 KB body of 1,100 `[`) is bad input on both transports: REST answers
400 `invalid` in the JSON error shape on every endpoint, the anonymous login included, and the
socket answers an error ack and stays open. It used to be an HTML 500 with a traceback, and a
1011 close of the socket."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from asgiref.sync import sync_to_async

from messages import services as message_services
from messenger.jsoninput import MAX_DEPTH
from tests.factories import PASSWORD
from tests.gateway.conftest import connect

DEEP = "[" * 1100


@pytest.fixture
def no_server_errors(caplog):
    caplog.set_level(logging.ERROR)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def assert_invalid(response) -> None:
    assert response.status_code == 400, response.content[:200]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "nest" in error["message"]


def test_deep_json_is_invalid_on_anonymous_login_and_refresh(api, alice, no_server_errors):
    for path in ("/api/auth/token", "/api/auth/token/refresh"):
        assert_invalid(api().post(path, DEEP, content_type="application/json"))
    # The same body still logs in once it is not nested.
    ok = api().post("/api/auth/token", {"user_id": "alice", "password": PASSWORD}, format="json")
    assert ok.status_code == 200 and ok.json()["access"]


def test_deep_json_is_invalid_on_member_endpoints(api, alice, group, no_server_errors):
    client = api(alice)
    assert_invalid(client.post("/api/rooms", DEEP, content_type="application/json"))
    assert_invalid(client.patch("/api/me", DEEP, content_type="application/json"))
    assert_invalid(
        client.post(f"/api/rooms/{group.pk}/messages", DEEP, content_type="application/json")
    )
    # Deep inside a valid object too, not only at the top.
    body = f'{{"msg_id": "{uuid.uuid4()}", "body": {"[" * 200}1{"]" * 200}}}'
    assert_invalid(
        client.post(f"/api/rooms/{group.pk}/messages", body, content_type="application/json")
    )
    assert group.last_seq == type(group).objects.get(pk=group.pk).last_seq


def test_nesting_up_to_the_limit_is_parsed_and_brackets_in_text_are_not_nesting(
    api, alice, group, no_server_errors
):
    client = api(alice)
    # At the limit the body is JSON like any other: the endpoint judges it (body must be text).
    nested = "[" * (MAX_DEPTH - 1) + '"x"' + "]" * (MAX_DEPTH - 1)
    at_limit = f'{{"msg_id": "{uuid.uuid4()}", "body": {nested}}}'
    answer = client.post(
        f"/api/rooms/{group.pk}/messages", at_limit, content_type="application/json"
    )
    assert answer.status_code == 400
    assert "nest" not in answer.json()["error"]["message"]
    # A talk made of brackets (and escaped quotes) is a talk.
    text = '["\\' + DEEP + "{" * 100
    sent = client.post(
        f"/api/rooms/{group.pk}/messages",
        json.dumps({"msg_id": str(uuid.uuid4()), "body": text}),
        content_type="application/json",
    )
    assert sent.status_code == 201, sent.content[:200]
    assert sent.json()["body"] == text


def test_malformed_json_is_invalid_in_the_error_shape(api, alice, no_server_errors):
    response = api(alice).post("/api/rooms", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.django_db(transaction=True)
async def test_deep_json_frame_gets_an_error_ack_and_the_socket_stays_open(
    make_user, no_server_errors
):
    alice = await sync_to_async(make_user)(user_id="alice", name="앨리스")
    await sync_to_async(make_user)(user_id="bob", name="밥")
    room, _ = await sync_to_async(message_services.room_create)(actor=alice, member_ids=["bob"])
    client = await connect(alice)
    try:
        await client.ws.send_to(text_data=DEEP)
        ack = await client.ack(None)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid"
        assert "nest" in ack["error"]["message"]
        # Deep data in a well-formed frame too.
        frame = f'{{"id": "deep", "ev": "alive", "data": {{"x": {DEEP + "]" * 1100}}}}}'
        await client.ws.send_to(text_data=frame)
        ack = await client.ack(None)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid"
        # The socket is still there and still works.
        sent = await client.request(
            "send_msg", {"room_id": room.pk, "msg_id": str(uuid.uuid4()), "body": "still here"}
        )
        assert sent["ok"] is True and sent["data"]["body"] == "still here"
    finally:
        await client.ws.disconnect()
