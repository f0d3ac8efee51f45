"""Identity attacks: acting on someone else's message, on a room after leaving, claiming to be
someone else in a socket frame, forged, tampered and expired tokens, tokens of a deactivated
account, and passwords at rest.

The sender of anything is the authenticated user, always; who that is comes from a token the
server signed, for an account that is active now."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from asgiref.sync import sync_to_async
from django.conf import global_settings
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client as BrowserClient
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

import messenger.settings as project_settings
from messages import services as message_services
from messages.models import Message, MessageReceipt
from orgsync import services as org_services
from orgsync.models import SyncRun, User
from orgsync.sync import hr_sync_run
from rooms.models import Room, RoomMember
from tests.factories import PASSWORD, UserFactory
from tests.gateway.conftest import Client, connect
from tests.messages.helpers import assert_error, bodies
from tests.orgsync.hr import write_batch
from tests.security.conftest import FAST_HASHER
from tests.security.scene import (
    FILE_NAME,
    REPLY_BODY,
    SECRET_BODY,
    Scene,
    expired_token,
    forged_token,
    json_text,
    png,
    tampered_token,
    unsigned_token,
)


def api(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def as_user(user: User) -> APIClient:
    return api(str(AccessToken.for_user(user)))


def history(user: User, room_id: int) -> list[str]:
    response = as_user(user).get(f"/api/rooms/{room_id}/messages")
    assert response.status_code == 200, response.content
    return bodies(response.json())


def state_of(msg_id: str) -> str:
    return Message.objects.get(msg_id=msg_id).state


async def close_code(client: Client, timeout: float = 5) -> int:
    """The code the server closed this socket with, skipping the pushes that came first."""
    while True:
        output = await client.ws.receive_output(timeout)
        if output["type"] == "websocket.close":
            return output["code"]


# --- someone else's message ------------------------------------------------------------------


def test_identity_cancel_of_another_persons_message_is_refused(scene: Scene):
    for user in (scene.member, scene.master):
        response = as_user(user).post(f"/api/messages/{scene.secret_msg}/cancel")
        assert_error(response, 403, "not_sender")
    assert state_of(scene.secret_msg) == ""
    assert SECRET_BODY in history(scene.master, scene.room.pk)
    # The sender may, so the refusal above is about who asks.
    response = as_user(scene.sender).post(f"/api/messages/{scene.secret_msg}/cancel")
    assert response.json()["state"] == "cancelled"


def test_identity_delete_of_another_persons_message_hides_it_for_me_only(scene: Scene):
    response = as_user(scene.member).delete(f"/api/messages/{scene.secret_msg}")

    assert response.status_code == 204
    assert SECRET_BODY not in history(scene.member, scene.room.pk)
    assert SECRET_BODY in history(scene.sender, scene.room.pk)
    assert SECRET_BODY in history(scene.master, scene.room.pk)
    assert state_of(scene.secret_msg) == ""
    assert list(MessageReceipt.objects.values_list("user_id", flat=True)) == [scene.member.pk]


def test_identity_sender_who_left_cannot_cancel_delete_or_download_their_own(scene: Scene):
    message_services.room_leave(actor=scene.sender, room_id=scene.room.pk)
    client = as_user(scene.sender)

    assert_error(client.post(f"/api/messages/{scene.secret_msg}/cancel"), 404, "not_found")
    assert_error(client.delete(f"/api/messages/{scene.secret_msg}"), 404, "not_found")
    assert_error(client.get(f"/api/files/{scene.file_msg}"), 404, "not_found")
    assert state_of(scene.secret_msg) == ""
    assert not MessageReceipt.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("event", ["cancel", "cancel_msg", "delete", "delete_msg"])
async def test_identity_socket_has_no_event_to_cancel_or_delete_a_message(ws_scene, event):
    """Cancelling and deleting are REST calls only; the socket refuses any such frame."""
    scene = await ws_scene()
    client = await connect(None, token=scene.token("member"))

    ack = await client.request(event, {"msg_id": scene.secret_msg, "room_id": scene.room.pk})

    assert ack["ok"] is False
    assert ack["error"]["code"] == "unknown_event"
    assert await sync_to_async(state_of)(scene.secret_msg) == ""
    assert not await sync_to_async(MessageReceipt.objects.exists)()
    await client.ws.disconnect()


# --- a room after leaving ----------------------------------------------------------------------


def test_identity_member_who_left_loses_everything_they_had(scene: Scene):
    """The member could read, download and search; after leaving, none of it, and nothing
    about the room shows in what they may still call."""
    client = as_user(scene.member)
    assert client.get(f"/api/files/{scene.file_msg}").status_code == 200
    assert SECRET_BODY in json_text(client.get("/api/search", {"q": "극비"}).json())
    own_room, _ = message_services.room_create(
        actor=scene.member, member_ids=[scene.outsider.user_id, scene.leaver.user_id]
    )

    message_services.room_leave(actor=scene.member, room_id=scene.room.pk)
    before = scene.world()

    room = f"/api/rooms/{scene.room.pk}"
    refused = [
        client.post(f"{room}/messages", {"msg_id": str(uuid.uuid4()), "body": "다시"}, "json"),
        client.post(f"{room}/read", {"seq": 3}, "json"),
        client.post(f"{room}/invite", {"user_ids": [scene.member.user_id]}, "json"),
        client.post(
            f"{room}/files",
            {"files": SimpleUploadedFile("a.txt", b"x"), "msg_ids": str(uuid.uuid4())},
            "multipart",
        ),
        client.get(f"/api/files/{scene.file_msg}"),
        client.get(f"/api/files/{scene.file_msg}/thumbnail"),
        client.get(f"{room}/messages"),
        client.get(room),
        client.get("/api/search", {"q": "극비", "room_id": scene.room.pk}),
        client.get(f"/api/messages/{scene.secret_msg}/readers"),
        # Taking the file out into a room of one's own.
        client.post(
            f"/api/rooms/{own_room.pk}/forward",
            {"msg_id": str(uuid.uuid4()), "source_msg_id": scene.file_msg},
            "json",
        ),
    ]
    for response in refused:
        assert_error(response, 404, "not_found")
    everywhere = client.get("/api/search", {"q": "극비"})
    assert everywhere.status_code == 200 and everywhere.json()["messages"] == []
    listed = client.get("/api/rooms").json()["rooms"]
    assert scene.room.pk not in [r["room_id"] for r in listed]
    assert scene.world() == before
    assert not Message.objects.filter(room=own_room, type="flink").exists()


def test_identity_member_invited_back_sees_only_from_the_new_invite(scene: Scene):
    message_services.room_leave(actor=scene.member, room_id=scene.room.pk)
    message_services.message_send(
        actor=scene.master, room_id=scene.room.pk, msg_id=uuid.uuid4(), body="없을 때 한 말"
    )
    message_services.room_invite(
        actor=scene.master, room_id=scene.room.pk, user_ids=[scene.member.user_id]
    )
    client = as_user(scene.member)

    shown = history(scene.member, scene.room.pk)
    assert SECRET_BODY not in shown and REPLY_BODY not in shown and "없을 때 한 말" not in shown
    assert_error(client.get(f"/api/files/{scene.file_msg}"), 404, "not_found")
    assert_error(client.get(f"/api/messages/{scene.secret_msg}/readers"), 404, "not_found")
    assert client.get("/api/search", {"q": "극비"}).json()["messages"] == []
    assert FILE_NAME not in json_text(client.get(f"/api/rooms/{scene.room.pk}").json())


def test_identity_a_file_of_another_room_cannot_be_forwarded_or_replied_to(scene: Scene):
    """An outsider names the room's file or message from a room of their own."""
    own_room, _ = message_services.room_create(
        actor=scene.outsider, member_ids=[scene.leaver.user_id, scene.master.user_id]
    )
    client = as_user(scene.outsider)

    forward = client.post(
        f"/api/rooms/{own_room.pk}/forward",
        {"msg_id": str(uuid.uuid4()), "source_msg_id": scene.file_msg},
        format="json",
    )
    reply = client.post(
        f"/api/rooms/{own_room.pk}/messages",
        {"msg_id": str(uuid.uuid4()), "body": "답장", "reply_to": scene.secret_msg},
        format="json",
    )

    assert_error(forward, 404, "not_found")
    error = assert_error(reply, 400, "invalid")
    assert SECRET_BODY not in json_text(error)
    assert Message.objects.filter(room=own_room).count() == 1  # the invite line only


@pytest.mark.django_db(transaction=True)
async def test_identity_socket_member_who_left_is_refused_every_room_event(ws_scene):
    scene = await ws_scene()
    own_room, _ = await sync_to_async(message_services.room_create)(
        actor=scene.member, member_ids=[scene.outsider.user_id, scene.leaver.user_id]
    )
    client = await connect(None, token=scene.token("member"))
    assert (await client.request("open_room", {"room_id": scene.room.pk}))["ok"] is True
    await sync_to_async(message_services.room_leave)(actor=scene.member, room_id=scene.room.pk)
    before = await sync_to_async(scene.world)()

    room_id = scene.room.pk
    frames: list[tuple[str, dict[str, Any]]] = [
        ("send_msg", {"room_id": room_id, "msg_id": str(uuid.uuid4()), "body": "다시"}),
        ("read", {"room_id": room_id, "seq": 3}),
        ("open_room", {"room_id": room_id}),
        ("typing", {"room_id": room_id}),
        ("invite", {"room_id": room_id, "user_ids": [scene.member.user_id]}),
        ("leave", {"room_id": room_id}),
        (
            "send_msg",
            {
                "room_id": own_room.pk,
                "msg_id": str(uuid.uuid4()),
                "type": "flink",
                "source_msg_id": scene.file_msg,
            },
        ),
    ]
    for event, data in frames:
        ack = await client.request(event, data)
        assert ack["ok"] is False, (event, ack)
        assert ack["error"]["code"] == "not_found", (event, ack)

    assert await sync_to_async(scene.world)() == before
    await client.ws.disconnect()


# --- claiming to be someone else ---------------------------------------------------------------

CLAIMS = {
    "user_id": "kim.master",
    "sender": "kim.master",
    "sender_id": 1,
    "sender_name": "김방장",
    "by": "kim.master",
    "actor": "kim.master",
    "master": "kim.master",
}


@pytest.mark.django_db(transaction=True)
async def test_identity_socket_frame_claiming_another_user_acts_as_the_socket_user(ws_scene):
    scene = await ws_scene()
    claims = CLAIMS | {"sender_id": scene.master.pk}
    master = await connect(None, token=scene.token("room master"))
    member = await connect(None, token=scene.token("member"))
    room_id = scene.room.pk
    msg_id = str(uuid.uuid4())

    sent = await member.request(
        "send_msg", claims | {"room_id": room_id, "msg_id": msg_id, "body": "내가 보냄"}
    )
    pushed = await master.push("message")
    read = await member.request("read", claims | {"room_id": room_id, "seq": 1})
    typing = await member.request("typing", claims | {"room_id": room_id})
    typed = await master.push("typing")
    invited = await member.request(
        "invite", claims | {"room_id": room_id, "user_ids": [scene.outsider.user_id]}
    )
    created = await member.request(
        "create_room", claims | {"member_ids": [scene.sender.user_id, scene.outsider.user_id]}
    )
    left = await member.request("leave", claims | {"room_id": room_id})

    assert sent["ok"] and sent["data"]["sender"] == "lee.member"
    assert pushed["data"]["msg_id"] == msg_id and pushed["data"]["sender"] == "lee.member"
    stored = await sync_to_async(Message.objects.select_related("sender").get)(msg_id=msg_id)
    assert stored.sender.user_id == "lee.member"
    assert read["ok"] and typing["ok"]
    assert typed["data"]["user_id"] == "lee.member"
    assert invited["ok"] and invited["data"]["message"]["meta"]["by"] == "lee.member"
    assert invited["data"]["message"]["sender"] == "lee.member"
    assert created["ok"] and created["data"]["master"] == "lee.member"
    assert left["ok"]

    @sync_to_async
    def memberships() -> dict[str, str]:
        return dict(
            RoomMember.objects.filter(room_id=room_id).values_list("user__user_id", "state")
        )

    states = await memberships()
    assert states["kim.master"] == RoomMember.State.ACTIVE
    assert states["lee.member"] == RoomMember.State.LEFT
    room = await sync_to_async(Room.objects.select_related("master").get)(pk=room_id)
    assert room.master.user_id == "kim.master"
    await master.ws.disconnect()
    await member.ws.disconnect()


def test_identity_rest_body_claiming_another_user_acts_as_the_token_user(scene: Scene):
    client = as_user(scene.member)
    claims = CLAIMS | {"sender_id": scene.master.pk}
    master_mark = RoomMember.objects.get(room=scene.room, user=scene.master).last_read_seq

    sent = client.post(
        f"/api/rooms/{scene.room.pk}/messages",
        claims | {"msg_id": str(uuid.uuid4()), "body": "내가 보냄"},
        format="json",
    )
    read = client.post(f"/api/rooms/{scene.room.pk}/read", claims | {"seq": 1}, format="json")
    me = client.patch("/api/me", {"nickname": "가짜", "user_id": "kim.master"}, format="json")

    assert sent.status_code == 201 and sent.json()["sender"] == "lee.member"
    assert Message.objects.get(msg_id=sent.json()["msg_id"]).sender == scene.member
    assert read.status_code == 200
    assert RoomMember.objects.get(room=scene.room, user=scene.master).last_read_seq == master_mark
    assert_error(me, 400, "invalid")
    assert User.objects.get(pk=scene.master.pk).nickname == ""
    assert User.objects.get(pk=scene.member.pk).nickname == ""


# --- tokens ------------------------------------------------------------------------------------


def _refresh_as_access(user: User) -> str:
    return str(RefreshToken.for_user(user))


def _for_nobody(user: User) -> str:
    token = AccessToken.for_user(user)
    token["uid"] = 10**9
    return str(token)


def _other_algorithm(user: User) -> str:
    """Signed with the server's key but HS512, which the server does not accept."""
    from django.conf import settings

    claims = dict(AccessToken.for_user(user).payload)
    return jwt.encode(claims, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS512")


BAD_TOKENS = {
    "signed with another key": (forged_token, "token_not_valid"),
    "unsigned (alg none)": (unsigned_token, "token_not_valid"),
    "payload changed after signing": (None, "token_not_valid"),
    "another algorithm": (_other_algorithm, "token_not_valid"),
    "expired": (expired_token, "token_not_valid"),
    "a refresh token": (_refresh_as_access, "token_not_valid"),
    "of no account": (_for_nobody, "authentication_failed"),
    "garbage": (lambda user: "not.a.token", "token_not_valid"),
}


def _bad_token(kind: str, scene: Scene) -> str:
    make, _code = BAD_TOKENS[kind]
    if make is None:
        return tampered_token(scene.outsider, scene.master)
    return make(scene.master)


# The test settings' key is short for HS512; the point is that the algorithm is refused.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_identity_bad_token_is_refused_on_rest(scene: Scene, kind):
    client = api(_bad_token(kind, scene))

    for path in ("/api/me", f"/api/rooms/{scene.room.pk}/messages", "/api/rooms"):
        error = assert_error(client.get(path), 401, BAD_TOKENS[kind][1])
        assert SECRET_BODY not in json_text(error)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_identity_bad_token_is_refused_on_socket(ws_scene, kind):
    scene = await ws_scene()
    client = await connect(None, token=await sync_to_async(_bad_token)(kind, scene))

    assert await close_code(client) == 4001


@pytest.mark.django_db(transaction=True)
async def test_identity_socket_token_is_also_refused_from_a_cookie_or_subprotocol(ws_scene):
    from channels.testing import WebsocketCommunicator

    from messenger.asgi import application

    scene = await ws_scene()
    forged = forged_token(scene.master)
    by_cookie = WebsocketCommunicator(
        application, "/ws/?kind=web", headers=[(b"cookie", f"access_token={forged}".encode())]
    )
    by_protocol = WebsocketCommunicator(
        application, "/ws/?kind=web", subprotocols=["messenger.v1", f"bearer.{forged}"]
    )
    for communicator in (by_cookie, by_protocol):
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        assert await close_code(Client(communicator)) == 4001


def test_identity_access_token_is_not_a_refresh_token(scene: Scene):
    access = str(AccessToken.for_user(scene.master))
    response = APIClient().post("/api/auth/token/refresh", {"refresh": access}, format="json")
    assert_error(response, 401, "token_not_valid")
    assert "access" not in response.json()


def test_identity_expired_refresh_token_is_refused(scene: Scene):
    refresh = RefreshToken.for_user(scene.master)
    refresh.set_exp(from_time=timezone.now() - timedelta(days=2))
    response = APIClient().post("/api/auth/token/refresh", {"refresh": str(refresh)}, "json")
    assert_error(response, 401, "token_not_valid")


# --- deactivated accounts ----------------------------------------------------------------------


def test_identity_deactivated_account_tokens_are_refused_on_rest(scene: Scene):
    admin = UserFactory(user_id="it.admin", is_staff=True, is_superuser=True)
    access = str(AccessToken.for_user(scene.member))
    refresh = str(RefreshToken.for_user(scene.member))
    assert api(access).get("/api/me").status_code == 200

    org_services.users_set_active(actor=admin, user_pks=[scene.member.pk], active=False)

    assert_error(api(access).get("/api/me"), 401, "authentication_failed")
    assert_error(api(access).get(f"/api/files/{scene.file_msg}"), 401, "authentication_failed")
    refreshed = APIClient().post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert_error(refreshed, 401, "no_active_account")
    login = APIClient().post(
        "/api/auth/token", {"user_id": scene.member.user_id, "password": PASSWORD}, format="json"
    )
    assert_error(login, 401)
    assert "access" not in login.json()


@pytest.mark.django_db(transaction=True)
async def test_identity_deactivation_closes_open_sockets_and_refuses_new_ones(ws_scene):
    scene = await ws_scene()
    admin = await sync_to_async(UserFactory)(user_id="it.admin", is_staff=True, is_superuser=True)
    token = scene.token("member")
    web = await connect(None, token=token)
    mobile = await connect(None, token=token, kind="mobile")
    assert (await web.request("alive"))["ok"]

    await sync_to_async(org_services.users_set_active)(
        actor=admin, user_pks=[scene.member.pk], active=False
    )

    assert await close_code(web) == 4003
    assert await close_code(mobile) == 4003
    again = await connect(None, token=token)
    assert await close_code(again) == 4003


@pytest.mark.django_db(transaction=True)
async def test_identity_open_socket_of_a_deactivated_account_cannot_act_if_the_close_is_lost(
    ws_scene,
):
    """The 4003 close travels through Redis and may be lost (pushes are at-most-once): the
    gateway still checks the account before acting on each frame."""
    scene = await ws_scene()
    client = await connect(None, token=scene.token("member"))
    assert (await client.request("alive"))["ok"]
    # Deactivated behind the gateway's back: no close is sent.
    await sync_to_async(User.objects.filter(pk=scene.member.pk).update)(is_active=False)

    await client.ws.send_to(
        text_data=json.dumps(
            {
                "id": "x",
                "ev": "send_msg",
                "data": {"room_id": scene.room.pk, "msg_id": str(uuid.uuid4()), "body": "유령"},
            }
        )
    )

    assert await close_code(client) == 4003
    assert not await sync_to_async(Message.objects.filter(body="유령").exists)()


# --- a new password ----------------------------------------------------------------------------


def _new_password(user: User) -> None:
    """What an admin's reset of a compromised account does."""
    user.set_password("Brand-new-pass-7788!")
    user.save(update_fields=["password"])


def test_identity_new_password_revokes_older_tokens_on_rest(scene: Scene):
    access = str(AccessToken.for_user(scene.member))
    refresh = str(RefreshToken.for_user(scene.member))
    assert api(access).get("/api/me").status_code == 200

    _new_password(scene.member)

    for response in (
        api(access).get("/api/me"),
        api(access).get(f"/api/files/{scene.file_msg}"),
        APIClient().post("/api/auth/token/refresh", {"refresh": refresh}, format="json"),
    ):
        error = assert_error(response, 401, "authentication_failed")
        assert "password" in error["message"]
    refreshed = APIClient().post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert "access" not in refreshed.json()
    login = APIClient().post(
        "/api/auth/token",
        {"user_id": scene.member.user_id, "password": "Brand-new-pass-7788!"},
        format="json",
    )
    assert login.status_code == 200
    assert api(login.json()["access"]).get("/api/me").status_code == 200
    fresh = APIClient().post(
        "/api/auth/token/refresh", {"refresh": login.json()["refresh"]}, format="json"
    )
    assert api(fresh.json()["access"]).get("/api/me").status_code == 200


def test_identity_other_peoples_tokens_survive_a_password_change(scene: Scene):
    access = str(AccessToken.for_user(scene.master))
    _new_password(scene.member)
    assert api(access).get("/api/me").status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_identity_new_password_refuses_the_old_token_on_socket(ws_scene):
    scene = await ws_scene()
    token = scene.token("member")
    client = await connect(None, token=token)
    assert (await client.request("alive"))["ok"]

    await sync_to_async(_new_password)(scene.member)

    again = await connect(None, token=token)
    assert await close_code(again) == 4001
    await client.ws.send_to(
        text_data=json.dumps(
            {
                "id": "x",
                "ev": "send_msg",
                "data": {"room_id": scene.room.pk, "msg_id": str(uuid.uuid4()), "body": "유령"},
            }
        )
    )
    assert await close_code(client) == 4001
    assert not await sync_to_async(Message.objects.filter(body="유령").exists)()


@pytest.mark.django_db(transaction=True)
async def test_identity_admin_setting_a_new_password_closes_open_sockets(ws_scene):
    scene = await ws_scene()
    client = await connect(None, token=scene.token("member"))
    assert (await client.request("alive"))["ok"]

    @sync_to_async
    def admin_sets_password() -> int:
        admin = UserFactory(user_id="it.admin", is_staff=True, is_superuser=True)
        browser = BrowserClient()
        browser.force_login(admin)
        plain = "Reset-by-admin-4471!"
        return browser.post(
            f"/admin/orgsync/user/{scene.member.pk}/password/",
            {"password1": plain, "password2": plain, "usable_password": "true"},
        ).status_code

    assert await admin_sets_password() == 302

    assert await close_code(client) == 4001
    again = await connect(None, token=scene.token("member"))
    assert await close_code(again) == 4001


# --- passwords at rest -------------------------------------------------------------------------

SLOW_HASHERS = {"pbkdf2_sha256", "argon2", "bcrypt_sha256", "scrypt"}


def _project_hashers() -> list[str]:
    return list(getattr(project_settings, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS))


def _assert_hashed(user: User, plain: str | None) -> None:
    assert user.password
    if plain is None:
        assert not user.has_usable_password()
        return
    assert plain not in user.password
    assert identify_hasher(user.password).algorithm in SLOW_HASHERS | {"md5"}
    assert check_password(plain, user.password)


def test_identity_project_hashes_passwords_with_a_slow_hasher():
    first = _project_hashers()[0]
    assert first.rsplit(".", 1)[-1].lower().removesuffix("passwordhasher") in {
        "pbkdf2",
        "argon2",
        "bcryptsha256",
        "scrypt",
    }


def test_identity_admin_added_person_gets_a_hashed_password(db, settings):
    settings.PASSWORD_HASHERS = _project_hashers()
    admin = UserFactory(user_id="it.admin", is_staff=True, is_superuser=True)
    browser = BrowserClient()
    browser.force_login(admin)
    plain = "Strong-pass-9431!"

    response = browser.post(
        "/admin/orgsync/user/add/",
        {
            "user_id": "new.person",
            "name": "새사람",
            "usable_password": "true",
            "password1": plain,
            "password2": plain,
        },
    )

    assert response.status_code == 302, response.content[:2000]
    person = User.objects.get(user_id="new.person")
    _assert_hashed(person, plain)
    assert identify_hasher(person.password).algorithm in SLOW_HASHERS


def test_identity_admin_password_change_stores_a_hash(db, settings):
    settings.PASSWORD_HASHERS = FAST_HASHER
    admin = UserFactory(user_id="it.admin", is_staff=True, is_superuser=True)
    person = UserFactory(user_id="someone")
    browser = BrowserClient()
    browser.force_login(admin)
    plain = "Other-pass-5521!"

    response = browser.post(
        f"/admin/orgsync/user/{person.pk}/password/",
        {"password1": plain, "password2": plain, "usable_password": "true"},
    )

    assert response.status_code == 302, response.content[:2000]
    person.refresh_from_db()
    _assert_hashed(person, plain)


def test_identity_seeded_demo_people_have_hashed_passwords(db, settings, tmp_path):
    from messenger.management.commands.seed_demo import DEMO_PASSWORD

    settings.PASSWORD_HASHERS = FAST_HASHER
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", "--force", stdout=open(tmp_path / "out", "w"))  # noqa: SIM115

    people = list(User.objects.all())
    assert len(people) > 5
    for person in people:
        _assert_hashed(person, DEMO_PASSWORD)


def test_identity_hr_synced_people_have_no_usable_password(db):
    write_batch("20250301090000")
    assert hr_sync_run(lock_wait_seconds=5).status == SyncRun.Status.APPLIED

    people = list(User.objects.all())
    assert people
    for person in people:
        _assert_hashed(person, None)


def test_identity_no_answer_carries_a_password_hash(scene: Scene):
    client = as_user(scene.member)
    hashes = list(User.objects.values_list("password", flat=True))
    answers = [
        client.get("/api/me"),
        client.get("/api/users", {"q": "김"}),
        client.get(f"/api/users/{scene.master.user_id}"),
        client.get("/api/org/tree"),
        client.get(f"/api/rooms/{scene.room.pk}"),
        APIClient().post(
            "/api/auth/token", {"user_id": scene.member.user_id, "password": PASSWORD}, "json"
        ),
    ]
    for response in answers:
        assert response.status_code == 200
        text = response.content.decode()
        assert "password" not in text
        assert not [h for h in hashes if h in text]


def test_identity_picture_upload_by_one_never_changes_another(scene: Scene):
    before = User.objects.get(pk=scene.member.pk).picture.name
    response = as_user(scene.outsider).put(
        "/api/me/picture",
        {"picture": SimpleUploadedFile("p.png", png()), "user_id": scene.member.user_id},
        format="multipart",
    )
    assert response.status_code == 200
    assert response.json()["user_id"] == scene.outsider.user_id
    assert User.objects.get(pk=scene.member.pk).picture.name == before


def test_identity_file_upload_records_the_token_user_as_sender(scene: Scene):
    response = as_user(scene.member).post(
        f"/api/rooms/{scene.room.pk}/files",
        {
            "files": SimpleUploadedFile("y.txt", b"more"),
            "msg_ids": str(uuid.uuid4()),
            "sender": scene.master.user_id,
        },
        format="multipart",
    )
    assert response.status_code == 201
    [message] = response.json()["messages"]
    assert message["sender"] == scene.member.user_id
    assert Message.objects.get(msg_id=message["msg_id"]).sender == scene.member
