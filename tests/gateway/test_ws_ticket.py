"""Socket tickets (POST /api/auth/ws-ticket, messenger/wstickets.py): the socket opens with
`?ticket=` instead of a token in its URL; a ticket opens one socket, for a short while, bound
to the account and token that asked for it. `?token=` keeps working for other clients."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from messenger.asgi import application
from messenger.gateway.auth import CLOSE_BAD_TOKEN, CLOSE_DISABLED
from orgsync.models import User
from tests.conftest import token_for
from tests.factories import UserFactory
from tests.gateway.conftest import Client
from tests.messages.helpers import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def make(user_id: str) -> User:
    return UserFactory(user_id=user_id, name=user_id.title())


def ticket_for(token: str) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post("/api/auth/ws-ticket")
    assert response.status_code == 200, response.content
    return response.json()


async def open_with(query: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/?kind=web&{query}")
    connected, _code = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def works(communicator: WebsocketCommunicator) -> bool:
    client = Client(communicator)
    answer = await client.request("alive", {})
    return answer["ok"] is True


async def closed_with(communicator: WebsocketCommunicator) -> int:
    output = await communicator.receive_output(5)
    assert output["type"] == "websocket.close", output
    return output["code"]


async def test_ws_ticket_opens_the_socket_once():
    alice = await make("alice")
    issued = await sync_to_async(ticket_for)(token_for(alice))
    assert 0 < issued["expires_in"] <= 60
    assert len(issued["ticket"]) >= 40
    assert issued["ticket"] not in token_for(alice)

    first = await open_with(f"ticket={issued['ticket']}")
    assert await works(first)

    replay = await open_with(f"ticket={issued['ticket']}")
    assert await closed_with(replay) == CLOSE_BAD_TOKEN
    await first.disconnect()


async def test_ws_ticket_expires():
    alice = await make("alice")
    with override_settings(MESSENGER_WS_TICKET_SECONDS=1):
        issued = await sync_to_async(ticket_for)(token_for(alice))
    assert issued["expires_in"] == 1
    await asyncio.sleep(1.5)

    late = await open_with(f"ticket={issued['ticket']}")
    assert await closed_with(late) == CLOSE_BAD_TOKEN


async def test_ws_ticket_that_was_never_issued_is_refused():
    await make("alice")
    for query in ("ticket=made-up", "ticket=", "ticket=" + "x" * 500):
        socket = await open_with(query)
        assert await closed_with(socket) == CLOSE_BAD_TOKEN


async def test_ws_ticket_is_bound_to_the_account_as_it_is_now():
    alice = await make("alice")
    issued = await sync_to_async(ticket_for)(token_for(alice))
    alice.is_active = False
    await sync_to_async(alice.save)()

    socket = await open_with(f"ticket={issued['ticket']}")
    assert await closed_with(socket) == CLOSE_DISABLED


async def test_ws_ticket_socket_keeps_the_token_claims_for_its_frame_checks():
    # The per-frame checks use the claims of the token the ticket stands for: a new password
    # (an admin's reset) closes a socket opened with a ticket, as it closes one opened with
    # the token itself.
    alice = await make("alice")
    issued = await sync_to_async(ticket_for)(token_for(alice))
    socket = await open_with(f"ticket={issued['ticket']}")
    assert await works(socket)

    alice.set_password("a brand new password 1")
    await sync_to_async(alice.save)()
    await socket.send_to(text_data=json.dumps({"id": "a", "ev": "alive", "data": {}}))

    assert await closed_with(socket) == CLOSE_BAD_TOKEN


async def test_ws_ticket_of_a_token_that_expired_since_is_refused():
    alice = await make("alice")
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=timedelta(seconds=3))
    issued = await sync_to_async(ticket_for)(str(token))
    await asyncio.sleep(3.5)  # the ticket (30 s) is still good, the token it stands for is not

    socket = await open_with(f"ticket={issued['ticket']}")
    assert await closed_with(socket) == CLOSE_BAD_TOKEN


async def test_ws_token_in_the_query_still_works():
    alice = await make("alice")
    socket = await open_with(f"token={token_for(alice)}")
    assert await works(socket)
    await socket.disconnect()


def test_ws_ticket_needs_a_token(db):
    assert_error(APIClient().post("/api/auth/ws-ticket"), 401, "not_authenticated")


def test_ws_ticket_requests_are_rate_limited(db, settings, alice):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ws_ticket": "2/60s"}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    assert client.post("/api/auth/ws-ticket").status_code == 200
    assert client.post("/api/auth/ws-ticket").status_code == 200

    assert_error(client.post("/api/auth/ws-ticket"), 429, "rate_limited")
