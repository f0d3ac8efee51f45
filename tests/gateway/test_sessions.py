"""Signed-in sessions on the socket: signing a device out closes that device's sockets (4001)
and no other of the person's, and a socket whose session ended is refused at its next frame
even if the close never reached it."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from orgsync import services, sessions
from orgsync.models import LoginSession, User
from tests.factories import PASSWORD, UserFactory
from tests.gateway.conftest import Client, connect

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def signed_in(user: User, kind: str) -> tuple[int, str]:
    tokens = services.login_tokens(user=user, method="password", device=kind, address="")
    session = LoginSession.objects.filter(user=user).latest("pk")
    return session.pk, tokens["access"]


async def assert_open(client: Client) -> None:
    assert (await client.request("alive"))["ok"] is True


async def assert_closed(client: Client, code: int) -> None:
    while True:
        output = await client.ws.receive_output(5)
        if output["type"] == "websocket.close":
            assert output == {"type": "websocket.close", "code": code}
            return


async def test_signing_a_device_out_closes_its_socket_and_not_the_others():
    minjun = await sync_to_async(UserFactory)(user_id="minjun")
    laptop_sid, laptop_token = await signed_in(minjun, "web")
    phone_sid, phone_token = await signed_in(minjun, "mobile")
    laptop = await connect(None, token=laptop_token, kind="web")
    phone = await connect(None, token=phone_token, kind="mobile")
    await assert_open(laptop)
    await assert_open(phone)

    await sync_to_async(sessions.session_end)(user=minjun, session_id=phone_sid, reason="revoked")

    await assert_closed(phone, 4001)
    await assert_open(laptop)
    assert laptop_sid != phone_sid
    # A new socket with the signed-out device's token is refused at connect.
    again = await connect(None, token=phone_token, kind="mobile")
    await assert_closed(again, 4001)
    await laptop.ws.disconnect()


async def test_a_signed_out_socket_is_refused_at_its_next_frame_without_the_close():
    minjun = await sync_to_async(UserFactory)(user_id="minjun")
    phone_sid, phone_token = await signed_in(minjun, "mobile")
    phone = await connect(None, token=phone_token, kind="mobile")
    await assert_open(phone)

    # Ended behind the gateway's back: no close message is published.
    await sync_to_async(LoginSession.objects.filter(pk=phone_sid).update)(ended_at=timezone.now())
    await phone.ws.send_to(text_data='{"id": "x", "ev": "alive", "data": {}}')

    await assert_closed(phone, 4001)


async def test_a_new_password_closes_the_other_devices_sockets():
    minjun = await sync_to_async(UserFactory)(user_id="minjun")
    laptop_sid, _laptop_token = await signed_in(minjun, "web")
    _phone_sid, phone_token = await signed_in(minjun, "mobile")
    phone = await connect(None, token=phone_token, kind="mobile")
    await assert_open(phone)

    await sync_to_async(services.password_change)(
        user=minjun, old_password=PASSWORD, new_password="Green-valley-3318", sid=laptop_sid
    )

    await assert_closed(phone, 4001)
    assert not await sync_to_async(
        LoginSession.objects.filter(user=minjun, ended_at=None).exclude(pk=laptop_sid).exists
    )()
