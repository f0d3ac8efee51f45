"""A deploy stops a server process with SIGTERM (systemd's default): live sockets are closed
with 1012 (service restart), so clients reconnect to another process and catch up, and the
process exits within a few seconds instead of waiting for them for ever."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import uuid
from collections import Counter
from typing import Any

import pytest
import websockets

from messages import services as message_services
from orgsync.models import ActionLog
from tests.conftest import token_for
from tests.factories import UserFactory

pytestmark = pytest.mark.live

# Enough sockets that recording their disconnects one by one (as before the fix: 300 took
# over 11 s on the busy 2-core machine) cannot pass for a quick exit. Two per person (web and
# mobile).
PEOPLE = 200
SOCKETS = 2 * PEOPLE
EXIT_WITHIN = 5.0


async def request(ws: Any, ev: str, data: dict[str, Any]) -> dict[str, Any]:
    request_id = uuid.uuid4().hex
    await ws.send(json.dumps({"id": request_id, "ev": ev, "data": data}))
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("ack") == request_id:
                return frame


async def close_code(ws: Any) -> int | None:
    """Read until the server closes the socket; its close code (None if it never does)."""
    try:
        async with asyncio.timeout(EXIT_WITHIN + 5):
            async for _frame in ws:
                pass
    except TimeoutError:
        return None
    except websockets.ConnectionClosed:
        pass  # a close code other than 1000/1001 ends the iteration with this error
    return ws.close_code


@pytest.mark.parametrize("server_kind", ["uvicorn"])
def test_sigterm_closes_live_sockets_with_1012_and_exits(start_server, server_kind, settings):
    # Only tokens are used: a fast hasher spares 200 key derivations of the password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    users = [UserFactory(user_id=f"term{i:03d}", name=f"종료{i}") for i in range(PEOPLE)]
    room, _ = message_services.room_create(
        actor=users[0], member_ids=[u.user_id for u in users[1:10]], name="배포"
    )
    server = start_server(server_kind)

    async def connect(user: Any, kind: str) -> Any:
        url = f"{server.ws_url}?kind={kind}&token={token_for(user)}"
        return await websockets.connect(url, ping_interval=None, open_timeout=60)

    async def scenario() -> tuple[list[int | None], float]:
        sockets = []
        for start in range(0, PEOPLE, 25):
            chunk = users[start : start + 25]
            sockets += await asyncio.gather(
                *(connect(user, kind) for user in chunk for kind in ("web", "mobile"))
            )
        # Sockets that have done something: heartbeats, a room open, a send with its pushes.
        for ws in sockets[:20]:
            assert (await request(ws, "alive", {}))["ok"]
        assert (await request(sockets[2], "open_room", {"room_id": room.pk}))["ok"]
        data = {"room_id": room.pk, "msg_id": str(uuid.uuid4()), "body": "배포"}
        sent = await request(sockets[0], "send_msg", data)
        assert sent["ok"], sent
        await asyncio.sleep(0.5)

        server.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        codes = await asyncio.gather(*(close_code(ws) for ws in sockets))
        try:
            await asyncio.to_thread(server.proc.wait, EXIT_WITHIN + 20)
        except subprocess.TimeoutExpired:
            return list(codes), float("inf")
        return list(codes), time.monotonic() - signalled

    started = time.monotonic()
    codes, exited_after = asyncio.run(scenario())
    print(f"scenario took {time.monotonic() - started:.1f} s")
    recorded = ActionLog.objects.filter(work=ActionLog.Work.DISCONNECT, state="1012").count()
    print(
        f"[{server_kind} SIGTERM, {SOCKETS} sockets] close codes {Counter(codes)}, exited after "
        f"{exited_after:.2f} s, {recorded} disconnects recorded"
    )
    assert codes == [1012] * SOCKETS, Counter(codes)
    assert exited_after < EXIT_WITHIN, f"still running {exited_after:.1f} s after SIGTERM"
    # Every socket's disconnect is in the action log, as for any other close.
    assert recorded == SOCKETS
