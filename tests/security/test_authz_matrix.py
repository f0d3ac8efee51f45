"""The authorisation matrix: every REST call under /api/ and every socket event, tried by
everyone who must be refused and by those who may.

The two case tables are checked against the URL conf and the gateway's EVENTS table, so a new
endpoint or event fails here until it has a row saying who may use it. As docs/protocol.md
says: no valid token of an active account is 401 (a socket is closed with 4001, or 4003 for a
deactivated account); an unknown room, message, person or preview is 404, and so is a room
(or its messages and files) that the caller may not see, a stranger's or a member's who left:
their answers are the very answers to unknown ids, so they cannot tell what exists (room ids
are sequential). A member lacking a right is 403: not the room master renaming the room
(`not_room_master`), not the sender cancelling a message (`not_sender`). A refusal changes
nothing and tells nothing: its answer names none of the room's messages, files, name or
members. Every row is also done by someone who may, so the matrix cannot pass by refusing
everything."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from messages import services as message_services
from messenger.gateway.consumer import EVENTS
from orgsync import services as org_services
from tests.factories import PASSWORD
from tests.gateway.conftest import Client, connect
from tests.messages.helpers import assert_error
from tests.security.routes import api_calls
from tests.security.scene import (
    ANON,
    DISABLED,
    EXPIRED,
    FORGED,
    GARBAGE,
    LEAVER,
    MASTER,
    MASTER_ENDPOINT,
    MEMBER,
    OUTSIDER,
    SENDER,
    TOKEN_ACTORS,
    UNKNOWN,
    UNKNOWN_ROOM,
    Scene,
    json_text,
    leaks,
    png,
)


@dataclass(frozen=True)
class Rule:
    """Who may make a call, and how everyone else is refused."""

    name: str
    may: tuple[str, ...]
    refused: dict[str, tuple[int, str]]
    # Actors who may make the call but are not in the room: their answers show nothing of it.
    blind: tuple[str, ...] = ()


# Tried on every REST call: a view with its own authentication would show in one of these.
# Garbage and expired tokens fail the same check as a forged one (tests/security/test_identity).
TOKEN_REFUSALS = {
    ANON: (401, "not_authenticated"),
    FORGED: (401, "token_not_valid"),
    DISABLED: (401, "authentication_failed"),
}
# Those who may not see the room: answered as for an unknown id (test_authz_*_same_answer_*).
STRANGERS = {OUTSIDER: (404, "not_found"), LEAVER: (404, "not_found")}
NOT_FOUND = {UNKNOWN: (404, "not_found")}

PUBLIC = Rule("open without a token", may=(ANON,), refused={})
SIGNED_IN = Rule(
    "anyone signed in, about themselves or everyone's directory",
    may=(OUTSIDER, LEAVER),
    refused=TOKEN_REFUSALS,
    blind=(OUTSIDER, LEAVER),
)
DIRECTORY = Rule(
    "anyone signed in, naming a person or preview",
    may=(OUTSIDER, LEAVER),
    refused={**TOKEN_REFUSALS, **NOT_FOUND},
    blind=(OUTSIDER, LEAVER),
)
IN_ROOM = Rule(
    "present members of the room",
    may=(MEMBER,),
    refused={**TOKEN_REFUSALS, **STRANGERS, **NOT_FOUND},
)
ROOM_MASTER = Rule(
    "the room master",
    may=(MASTER,),
    refused={**TOKEN_REFUSALS, **STRANGERS, **NOT_FOUND, MEMBER: (403, "not_room_master")},
)
# A signed-in device: only its owner may sign it out; anyone else's is answered as unknown.
SESSION_OWNER = Rule(
    "the session's owner",
    may=(MASTER,),
    refused={
        **TOKEN_REFUSALS,
        **NOT_FOUND,
        OUTSIDER: (404, "not_found"),
        MEMBER: (404, "not_found"),
    },
)
MESSAGE_SENDER = Rule(
    "the message's sender",
    may=(SENDER,),
    refused={
        **TOKEN_REFUSALS,
        **STRANGERS,
        **NOT_FOUND,
        MEMBER: (403, "not_sender"),
        MASTER: (403, "not_sender"),
    },
)


# --- REST ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    rule: Rule
    # What the URL names: room, message (the sender's secret), file, user (the member), preview.
    target: str = ""
    body: Callable[[Scene], Any] | None = None
    query: Callable[[Scene], dict[str, Any]] | None = None
    multipart: bool = False
    ok: tuple[int, ...] = (200, 201, 204)
    path: str = ""


def _new() -> str:
    return str(uuid.uuid4())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _subscription(scene: Scene) -> dict[str, Any]:
    return {
        "endpoint": f"http://127.0.0.1:9/push/{uuid.uuid4().hex}",
        "keys": {"p256dh": _b64(b"\x04" + os.urandom(64)), "auth": _b64(os.urandom(16))},
    }


def _picture(scene: Scene) -> dict[str, Any]:
    return {"picture": SimpleUploadedFile("me.png", png((0, 0, 200), 16))}


CATCH_ALL = Call(PUBLIC, path="/api/no/such/endpoint", ok=(404,))

# (URL name, method, variant) -> the call. A URL name may have several variants when who may
# depends on the body (renaming for everyone is the master's; muting is anyone's).
REST: dict[tuple[str, str, str], Call] = {
    ("token", "post", ""): Call(
        PUBLIC, body=lambda s: {"user_id": s.outsider.user_id, "password": PASSWORD}
    ),
    ("token-refresh", "post", ""): Call(
        PUBLIC, body=lambda s: {"refresh": str(RefreshToken.for_user(s.outsider))}
    ),
    # Sign-in with the company account is open to anyone; this scene has it not set up (404),
    # tests/orgsync/test_oidc.py tries it set up, against a real provider.
    ("oidc-login", "get", ""): Call(PUBLIC, ok=(404,)),
    ("oidc-callback", "get", ""): Call(PUBLIC, ok=(404,)),
    ("oidc-exchange", "post", ""): Call(PUBLIC, body=lambda s: {"code": "x" * 43}, ok=(404,)),
    # ERP sign-on is off in this scene (404 before any ticket is read); tests/orgsync/test_sso.py
    # tries it configured.
    ("auth-erp", "post", ""): Call(PUBLIC, body=lambda s: {"ticket": "a.b.c"}, ok=(404,)),
    ("auth-ws-ticket", "post", ""): Call(SIGNED_IN),
    # Holding the refresh token is the proof: no access token needed.
    ("logout", "post", ""): Call(
        PUBLIC,
        body=lambda s: {
            "refresh": org_services.login_tokens(
                user=s.outsider, method="password", device="web", address=""
            )["refresh"]
        },
    ),
    ("schema", "get", ""): Call(PUBLIC),
    ("docs", "get", ""): Call(PUBLIC),
    **{("api/^.*$", method, ""): CATCH_ALL for method in ("get", "post", "put", "patch", "delete")},
    ("me", "get", ""): Call(SIGNED_IN),
    ("me", "patch", ""): Call(
        SIGNED_IN, body=lambda s: {"nickname": "회의 중", "notify_off": True}
    ),
    ("me-password", "post", ""): Call(
        SIGNED_IN, body=lambda s: {"old_password": PASSWORD, "new_password": "Quiet-river-5521"}
    ),
    ("me-sessions", "get", ""): Call(SIGNED_IN),
    # Signing out my other devices: nobody else's.
    ("me-sessions", "delete", ""): Call(SIGNED_IN),
    ("me-session", "delete", ""): Call(SESSION_OWNER, target="session"),
    ("me-picture", "put", ""): Call(SIGNED_IN, body=_picture, multipart=True),
    ("me-picture", "post", ""): Call(SIGNED_IN, body=_picture, multipart=True),
    ("me-picture", "delete", ""): Call(SIGNED_IN),
    ("org-tree", "get", ""): Call(SIGNED_IN),
    ("users", "get", ""): Call(SIGNED_IN, query=lambda s: {"q": "이멤"}),
    ("user", "get", ""): Call(DIRECTORY, target="user"),
    ("user-picture", "get", ""): Call(DIRECTORY, target="user"),
    ("rooms", "get", ""): Call(SIGNED_IN),
    ("rooms", "post", ""): Call(SIGNED_IN, body=lambda s: {"member_ids": [s.member.user_id]}),
    ("room", "get", ""): Call(IN_ROOM, target="room"),
    ("room", "patch", "for me"): Call(
        IN_ROOM, target="room", body=lambda s: {"muted": True, "nickname": "엿보기"}
    ),
    ("room", "patch", "for everyone"): Call(
        ROOM_MASTER, target="room", body=lambda s: {"name": "바뀐 이름"}
    ),
    ("room-invite", "post", ""): Call(
        IN_ROOM,
        target="room",
        # Strangers try to let themselves in.
        body=lambda s: {"user_ids": [s.outsider.user_id, s.leaver.user_id]},
    ),
    ("room-leave", "post", ""): Call(IN_ROOM, target="room"),
    ("room-messages", "get", ""): Call(IN_ROOM, target="room"),
    ("room-messages", "post", ""): Call(
        IN_ROOM, target="room", body=lambda s: {"msg_id": _new(), "body": "몰래 한 말"}
    ),
    ("room-read", "post", ""): Call(IN_ROOM, target="room", body=lambda s: {"seq": 2}),
    ("room-files", "post", ""): Call(
        IN_ROOM,
        target="room",
        body=lambda s: {"files": SimpleUploadedFile("memo.txt", b"a note"), "msg_ids": _new()},
        multipart=True,
    ),
    ("room-forward", "post", ""): Call(
        IN_ROOM, target="room", body=lambda s: {"msg_id": _new(), "source_msg_id": s.file_msg}
    ),
    ("message-readers", "get", ""): Call(IN_ROOM, target="message"),
    # Deleting for me: any member may hide any message from their own history.
    ("message", "delete", ""): Call(IN_ROOM, target="message"),
    ("message-cancel", "post", ""): Call(MESSAGE_SENDER, target="message"),
    ("search", "get", "in the room"): Call(
        IN_ROOM, target="room", query=lambda s: {"q": "극비", "room_id": s.room.pk}
    ),
    ("search", "get", "in all my rooms"): Call(SIGNED_IN, query=lambda s: {"q": "극비"}),
    ("file", "get", ""): Call(IN_ROOM, target="file"),
    ("file-thumbnail", "get", ""): Call(IN_ROOM, target="file"),
    # The image of a link card is a capability: its random token is its only key.
    ("link-preview-image", "get", ""): Call(DIRECTORY, target="preview"),
    ("push-subscriptions", "post", ""): Call(SIGNED_IN, body=_subscription),
    # Someone else's endpoint: answered like an unknown one, and left alone.
    ("push-subscriptions", "delete", ""): Call(
        SIGNED_IN, body=lambda s: {"endpoint": MASTER_ENDPOINT}
    ),
    ("push-vapid-public-key", "get", ""): Call(SIGNED_IN),
}


def _url(key: tuple[str, str, str], call: Call, scene: Scene, *, unknown: bool) -> str:
    if call.path:
        return call.path
    name = key[0]
    kwargs: dict[str, Any] = {}
    if call.target == "room":
        if "room_id" in _route(name):
            kwargs["room_id"] = UNKNOWN_ROOM if unknown else scene.room.pk
    elif call.target == "message":
        kwargs["msg_id"] = _new() if unknown else scene.secret_msg
    elif call.target == "file":
        kwargs["msg_id"] = _new() if unknown else scene.file_msg
    elif call.target == "user":
        kwargs["user_id"] = "no.such.person" if unknown else scene.member.user_id
    elif call.target == "preview":
        kwargs["token"] = _new() if unknown else scene.preview_token
    elif call.target == "session":
        kwargs["session_id"] = UNKNOWN_ROOM if unknown else scene.master_session
    url = reverse(name, kwargs=kwargs)
    if call.query is not None:
        query = call.query(scene)
        if unknown and "room_id" in query:
            query["room_id"] = UNKNOWN_ROOM
        url += "?" + urlencode(query)
    return url


def _route(name: str) -> str:
    return next(route for n, route, _m in api_calls() if n == name)


def _rest(scene: Scene, key: tuple[str, str, str], actor: str, *, unknown: bool = False):
    """Make the call as the actor (UNKNOWN: as one who may, naming unknown ids); `unknown`
    names unknown ids whoever the actor is."""
    call = REST[key]
    method = key[1]
    client = APIClient()
    token = scene.token(call.rule.may[0] if actor == UNKNOWN else actor)
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = _url(key, call, scene, unknown=unknown or actor == UNKNOWN)
    body = call.body(scene) if call.body is not None else None
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, body, format="multipart" if call.multipart else "json")


def _text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", errors="replace")
    return response.content.decode("utf-8", errors="replace")


def _key_id(key: tuple[str, str, str]) -> str:
    name, method, variant = key
    return f"{method.upper()} {name}" + (f" ({variant})" if variant else "")


REST_REFUSALS = [(key, actor) for key, call in REST.items() for actor in call.rule.refused]
REST_ALLOWED = [(key, actor) for key, call in REST.items() for actor in call.rule.may]


def test_authz_every_api_call_has_a_row_in_the_matrix():
    served = {(name, method) for name, _route, method in api_calls()}
    listed = {(name, method) for name, method, _variant in REST}
    assert served, "the URL conf has no /api/ routes?"
    assert sorted(served - listed) == [], "add these calls to REST with who may make them"
    assert sorted(listed - served) == [], "these rows name calls the URL conf no longer has"


@pytest.mark.parametrize(
    ("key", "actor"), REST_REFUSALS, ids=[f"{_key_id(k)} as {a}" for k, a in REST_REFUSALS]
)
def test_authz_rest_call_is_refused(scene, key, actor):
    status, code = REST[key].rule.refused[actor]
    before = scene.world()

    response = _rest(scene, key, actor)

    assert_error(response, status, code)
    assert leaks(_text(response), scene.room_secrets + scene.member_secrets) == []
    assert scene.world() == before


# Calls naming a room, message or file by id, as those who may not see it.
REST_BLIND_IDS = [
    (key, actor)
    for key, call in REST.items()
    if call.target in ("room", "message", "file")
    for actor in (OUTSIDER, LEAVER)
    if actor in call.rule.refused
]


@pytest.mark.parametrize(
    ("key", "actor"), REST_BLIND_IDS, ids=[f"{_key_id(k)} as {a}" for k, a in REST_BLIND_IDS]
)
def test_authz_rest_same_answer_for_existing_and_unknown_ids(scene, key, actor):
    # The room, its secret message and its file exist; the other ids do not. Whoever may not
    # see them cannot tell the two apart: not by status, not by a word of the body.
    existing = _rest(scene, key, actor)
    unknown = _rest(scene, key, actor, unknown=True)

    assert existing.status_code == unknown.status_code == 404
    assert existing.json() == unknown.json()


def _forward_and_reply_answers(scene: Scene, actor: str) -> list[tuple[int, Any]]:
    """The answers to a forward of the room's file and a reply to its secret message, sent
    into a room of the actor's own, then the same with unknown ids."""
    user = scene.user(actor)
    assert user is not None
    own_room, _ = message_services.room_open_direct(actor=user, peer=scene.newcomer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {scene.token(actor)}")
    answers = []
    for source, reply_to in ((scene.file_msg, scene.secret_msg), (_new(), _new())):
        forward = client.post(
            reverse("room-forward", kwargs={"room_id": own_room.pk}),
            {"msg_id": _new(), "source_msg_id": source},
            format="json",
        )
        reply = client.post(
            reverse("room-messages", kwargs={"room_id": own_room.pk}),
            {"msg_id": _new(), "body": "답장", "reply_to": reply_to},
            format="json",
        )
        answers.append(((forward.status_code, forward.json()), (reply.status_code, reply.json())))
    return answers


@pytest.mark.parametrize("actor", [OUTSIDER, LEAVER])
def test_authz_rest_forward_source_and_reply_to_out_of_sight_are_answered_as_unknown(scene, actor):
    before = scene.world()

    (forward, reply), (unknown_forward, unknown_reply) = _forward_and_reply_answers(scene, actor)

    assert forward == unknown_forward and forward[0] == 404
    assert reply == unknown_reply and reply[0] == 400
    assert scene.world() == before


@pytest.mark.parametrize(
    ("key", "actor"), REST_ALLOWED, ids=[f"{_key_id(k)} as {a}" for k, a in REST_ALLOWED]
)
def test_authz_rest_call_is_allowed(scene, key, actor):
    call = REST[key]
    before = scene.world()

    response = _rest(scene, key, actor)

    assert response.status_code in call.ok, (response.status_code, _text(response)[:300])
    if actor in call.rule.blind:
        # Allowed, but not into the room: the answer shows nothing of it, the call changes
        # nothing of it, and nobody else's settings, picture or subscriptions.
        assert leaks(_text(response), scene.room_secrets) == []
        assert scene.world() == before


# --- WebSocket -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    rule: Rule
    data: Callable[[Scene], dict[str, Any]]


WS_IN_ROOM = Rule("present members of the room", may=(MEMBER,), refused={**STRANGERS, **NOT_FOUND})
WS_SIGNED_IN = Rule(
    "anyone connected", may=(OUTSIDER, LEAVER), refused={}, blind=(OUTSIDER, LEAVER)
)
# What a socket without a valid token of an active account is closed with.
WS_CLOSE = {ANON: 4001, GARBAGE: 4001, FORGED: 4001, EXPIRED: 4001, DISABLED: 4003}

# (event, variant) -> the frame's data.
SOCKET: dict[tuple[str, str], Event] = {
    ("send_msg", "talk"): Event(
        WS_IN_ROOM,
        lambda s: {"room_id": s.room.pk, "msg_id": _new(), "type": "talk", "body": "몰래"},
    ),
    ("send_msg", "forward"): Event(
        WS_IN_ROOM,
        lambda s: {
            "room_id": s.room.pk,
            "msg_id": _new(),
            "type": "flink",
            "source_msg_id": s.file_msg,
        },
    ),
    ("open_room", ""): Event(WS_IN_ROOM, lambda s: {"room_id": s.room.pk}),
    ("close_room", ""): Event(WS_SIGNED_IN, lambda s: {}),
    ("focus", ""): Event(WS_SIGNED_IN, lambda s: {"focused": False}),
    ("read", ""): Event(WS_IN_ROOM, lambda s: {"room_id": s.room.pk, "seq": 2}),
    ("typing", ""): Event(WS_IN_ROOM, lambda s: {"room_id": s.room.pk}),
    ("create_room", ""): Event(WS_SIGNED_IN, lambda s: {"member_ids": [s.member.user_id]}),
    # The outsider and the leaver watch the member's allowed invite: they are not the invitees.
    ("invite", ""): Event(
        WS_IN_ROOM, lambda s: {"room_id": s.room.pk, "user_ids": [s.newcomer.user_id]}
    ),
    ("leave", ""): Event(WS_IN_ROOM, lambda s: {"room_id": s.room.pk}),
    ("alive", ""): Event(WS_SIGNED_IN, lambda s: {}),
}

SOCKET_REFUSALS = [(key, actor) for key, ev in SOCKET.items() for actor in ev.rule.refused]
SOCKET_ALLOWED = [(key, actor) for key, ev in SOCKET.items() for actor in ev.rule.may]


def _ev_id(key: tuple[str, str]) -> str:
    return key[0] + (f" ({key[1]})" if key[1] else "")


async def _drain(client: Client, seconds: float = 0.3) -> list[dict[str, Any]]:
    """Every frame the socket has been sent until it stays quiet for a moment."""
    frames = list(client.pushes)
    client.pushes.clear()
    while not await client.ws.receive_nothing(seconds):
        output = await client.ws.receive_output(1)
        if output["type"] == "websocket.send":
            frames.append(json.loads(output["text"]))
    return frames


def _about_room(
    frames: list[dict[str, Any]], scene: Scene, *, members_too: bool = True
) -> list[dict[str, Any]]:
    """The frames that say anything about the scene's room (or who is in it)."""
    secrets = scene.room_secrets + (scene.member_secrets if members_too else [])
    return [
        f
        for f in frames
        if (f.get("data") or {}).get("room_id") == scene.room.pk or leaks(json_text(f), secrets)
    ]


def _frame_data(key: tuple[str, str], scene: Scene, *, unknown: bool) -> dict[str, Any]:
    data = SOCKET[key].data(scene)
    if unknown and "room_id" in data:
        data["room_id"] = UNKNOWN_ROOM
    return data


def test_authz_every_socket_event_has_a_row_in_the_matrix():
    listed = {event for event, _variant in SOCKET}
    assert sorted(set(EVENTS) - listed) == [], "add these events to SOCKET with who may send them"
    assert sorted(listed - set(EVENTS)) == [], "these rows name events the gateway no longer has"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("actor", TOKEN_ACTORS)
async def test_authz_socket_without_a_valid_token_is_closed_and_ignores_every_event(
    ws_scene, actor
):
    scene = await ws_scene()
    before = await sync_to_async(scene.world)()
    client = await connect(None, token=scene.token(actor) or "")

    closed = await client.ws.receive_output(5)

    assert closed == {"type": "websocket.close", "code": WS_CLOSE[actor]}
    for number, key in enumerate(SOCKET):
        data = _frame_data(key, scene, unknown=False)
        await client.ws.send_to(text_data=json.dumps({"id": number, "ev": key[0], "data": data}))
    assert await client.ws.receive_nothing(0.5)
    assert await sync_to_async(scene.world)() == before
    await client.ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("key", "actor"), SOCKET_REFUSALS, ids=[f"{_ev_id(k)} as {a}" for k, a in SOCKET_REFUSALS]
)
async def test_authz_socket_event_is_refused(ws_scene, key, actor):
    scene = await ws_scene()
    status_code = SOCKET[key].rule.refused[actor]
    user = SOCKET[key].rule.may[0] if actor == UNKNOWN else actor
    before = await sync_to_async(scene.world)()
    client = await connect(None, token=scene.token(user))

    ack = await client.request(key[0], _frame_data(key, scene, unknown=actor == UNKNOWN))

    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == status_code[1], ack
    assert ack["error"]["message"]
    assert leaks(json_text(ack), scene.room_secrets + scene.member_secrets) == []
    if actor != UNKNOWN:
        # (A member naming an unknown room is still in this one, and may hear of it.)
        assert _about_room(await _drain(client), scene) == []
    assert await sync_to_async(scene.world)() == before
    # Refused, the socket stays up for what the person may do.
    assert (await client.request("alive"))["ok"] is True
    await client.ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("actor", [OUTSIDER, LEAVER])
async def test_authz_socket_same_answer_for_existing_and_unknown_ids(ws_scene, actor):
    scene = await ws_scene()
    client = await connect(None, token=scene.token(actor))
    own_room, _ = await sync_to_async(message_services.room_open_direct)(
        actor=scene.user(actor), peer=scene.newcomer
    )
    for key, event in SOCKET.items():
        if actor not in event.rule.refused:
            continue
        existing = await client.request(key[0], _frame_data(key, scene, unknown=False))
        unknown = await client.request(key[0], _frame_data(key, scene, unknown=True))
        assert existing["ok"] is unknown["ok"] is False, (key, existing)
        assert existing["error"] == unknown["error"], key
        assert existing["error"]["code"] == "not_found", key
    # A forward of the room's file and a reply to its message, into the actor's own room.
    answers = []
    for source, reply_to in ((scene.file_msg, scene.secret_msg), (_new(), _new())):
        forward = await client.request(
            "send_msg",
            {"room_id": own_room.pk, "msg_id": _new(), "type": "flink", "source_msg_id": source},
        )
        reply = await client.request(
            "send_msg",
            {"room_id": own_room.pk, "msg_id": _new(), "body": "답장", "reply_to": reply_to},
        )
        answers.append((forward["error"], reply["error"]))
    assert answers[0] == answers[1]
    assert answers[0][0]["code"] == "not_found" and answers[0][1]["code"] == "invalid"
    await client.ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("key", "actor"), SOCKET_ALLOWED, ids=[f"{_ev_id(k)} as {a}" for k, a in SOCKET_ALLOWED]
)
async def test_authz_socket_event_is_allowed(ws_scene, key, actor):
    scene = await ws_scene()
    rule = SOCKET[key].rule
    before = await sync_to_async(scene.world)()
    # Those outside the room watch while it happens: they must hear nothing of it.
    watchers = [await connect(None, token=scene.token(a)) for a in (OUTSIDER, LEAVER) if a != actor]
    for watcher in watchers:
        await _drain(watcher)
    client = await connect(None, token=scene.token(actor))

    ack = await client.request(key[0], _frame_data(key, scene, unknown=False))

    assert ack["ok"] is True, ack
    for watcher in watchers:
        assert _about_room(await _drain(watcher), scene) == []
        await watcher.ws.disconnect()
    if actor in rule.blind:
        assert leaks(json_text(ack), scene.room_secrets) == []
        # (Creating a room with a member of it names that member, as the directory does.)
        assert _about_room(await _drain(client), scene, members_too=False) == []
        assert await sync_to_async(scene.world)() == before
    await client.ws.disconnect()
