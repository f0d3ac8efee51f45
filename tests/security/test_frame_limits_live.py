"""Frame size limits on real servers: the gateway refuses a frame over its own limit with an
error ack; the server itself ends a connection whose message is over the server's limit, without
buffering all of it, and other connections go on."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from django.conf import settings

from messages import services as message_services
from tests.conftest import token_for
from tests.factories import UserFactory
from tests.live.conftest import start_server  # noqa: F401  (the fixture)
from tests.live.test_servers import next_event, request

pytestmark = pytest.mark.live

# Daphne's default --websocket-max-message-size, and the --ws-max-size docs/operations.md gives
# uvicorn (whose own default is 16 MiB).
SERVER_MAX_BYTES = 1024 * 1024


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_oversize_frames_on_a_real_server(start_server, server):  # noqa: F811
    alice = UserFactory(user_id="alice", name="앨리스")
    bob = UserFactory(user_id="bob", name="밥")
    room, _ = message_services.room_open_direct(actor=alice, peer=bob)
    process = start_server(server)
    limit = settings.MESSENGER["WS_FRAME_MAX_BYTES"]

    async def scenario() -> None:
        url = f"{process.ws_url}?kind=web&token="
        async with (
            websockets.connect(url + token_for(alice), max_size=None) as a,
            websockets.connect(url + token_for(bob), max_size=None) as b,
        ):
            # Over the gateway's limit, under the server's: the gateway's error ack.
            await a.send(json.dumps({"id": "big", "ev": "alive", "pad": "x" * (2 * limit)}))
            async with asyncio.timeout(10):
                ack = {}
                while "ack" not in ack:
                    ack = json.loads(await a.recv())
            assert ack["ok"] is False and ack["error"]["code"] == "too_large", ack
            # Over the server's limit: the server ends this connection, with 1009 (uvicorn) or
            # by dropping it while the message still arrives (daphne).
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(20):
                    await a.send("x" * (4 * SERVER_MAX_BYTES))
                    while True:
                        await a.recv()
            received = closed.value.rcvd
            assert received is None or received.code == 1009, received
            # Bob, on the same server, still talks.
            async with websockets.connect(url + token_for(alice)) as again:
                ack = await request(
                    again,
                    "send_msg",
                    {"room_id": room.pk, "msg_id": str(uuid.uuid4()), "body": "after"},
                )
                assert ack["ok"] is True, ack
            push = await next_event(b, "message")
            assert push["data"]["body"] == "after"

    asyncio.run(scenario())
