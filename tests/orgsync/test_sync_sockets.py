"""A person deactivated by the HR sync, or by an admin, loses their live sockets (4003) and
their tokens at once: through the real gateway and channel layer."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from orgsync.models import SyncRun, User
from orgsync.sync import hr_sync_run
from tests.conftest import token_for
from tests.factories import UserFactory
from tests.gateway.conftest import connect
from tests.orgsync.hr import people_except, write_batch

pytestmark = pytest.mark.django_db(transaction=True)

D1, D2 = "20250301090000", "20250302090000"


async def close_code(ws, timeout: float = 5) -> int:
    """The code the server closed this socket with, skipping the pushes that came first."""
    while True:
        output = await ws.receive_output(timeout)
        if output["type"] == "websocket.close":
            return output["code"]


async def stays_open(ws, seconds: float = 0.5) -> bool:
    while not await ws.receive_nothing(seconds):
        if (await ws.receive_output(1))["type"] == "websocket.close":
            return False
    return True


@sync_to_async
def first_sync() -> User:
    write_batch(D1)
    assert hr_sync_run().status == SyncRun.Status.APPLIED
    return User.objects.get(user_id="park.jiho")


@sync_to_async
def sync_without_park() -> None:
    write_batch(D2, users=people_except("park.jiho"))
    outcome = hr_sync_run()
    assert outcome.status == SyncRun.Status.APPLIED
    assert outcome.counts["users_deactivated"] == 1


@sync_to_async
def api_status(token: str, path: str = "/api/me") -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(path).status_code


@sync_to_async
def refresh_status(refresh: str) -> int:
    return (
        APIClient().post("/api/auth/token/refresh", {"refresh": refresh}, format="json").status_code
    )


async def test_sync_deactivation_closes_live_sockets_with_4003_and_stops_tokens():
    park = await first_sync()
    access = token_for(park)
    refresh = str(await sync_to_async(RefreshToken.for_user)(park))
    web = await connect(park, kind="web")
    mobile = await connect(park, kind="mobile")
    assert (await web.request("alive"))["ok"]
    assert await api_status(access) == 200

    await sync_without_park()

    assert await close_code(web.ws) == 4003
    assert await close_code(mobile.ws) == 4003
    assert await api_status(access) == 401
    assert await refresh_status(refresh) == 401
    again = await connect(None, token=access)
    assert await close_code(again.ws) == 4003


async def test_sync_leaves_other_peoples_sockets_open():
    await first_sync()
    lee = await sync_to_async(User.objects.get)(user_id="lee.seoyeon")
    client = await connect(lee)

    await sync_without_park()

    assert await stays_open(client.ws)
    assert (await client.request("alive"))["ok"]
    await client.ws.disconnect()


@sync_to_async
def admin_deactivates(target: User) -> int:
    admin = UserFactory(user_id="it.admin", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(admin)
    response = browser.post(
        "/admin/orgsync/user/",
        {"action": "deactivate", "_selected_action": [target.pk]},
    )
    return response.status_code


async def test_admin_deactivate_action_closes_live_sockets_with_4003():
    park = await first_sync()
    client = await connect(park)
    assert (await client.request("alive"))["ok"]

    assert await admin_deactivates(park) == 302

    assert await close_code(client.ws) == 4003
    assert await api_status(token_for(park)) == 401
    fresh = await sync_to_async(User.objects.get)(pk=park.pk)
    assert fresh.is_active is False
    assert fresh.is_synced is False
