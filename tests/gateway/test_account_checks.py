"""The per-frame account check, coalesced per event loop (messenger.gateway.auth.AccountChecks):
each frame is checked against the database as it is after the frame arrived, and checks that
wait together share one query."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError
from rest_framework_simplejwt.tokens import AccessToken

from messenger.gateway import auth
from messenger.gateway.auth import CLOSE_BAD_TOKEN, CLOSE_DISABLED, AccountChecks
from orgsync.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reads(monkeypatch) -> list[list[int]]:
    """The primary keys of every account read, by read (each is still a real query)."""
    seen: list[list[int]] = []
    real = auth._active_and_password

    async def spy(pks: list[int], sids=()):
        seen.append(sorted(pks))
        return await real(pks, sids)

    monkeypatch.setattr(auth, "_active_and_password", spy)
    return seen


@sync_to_async
def accounts() -> tuple[User, User]:
    active = UserFactory(user_id="active")
    disabled = UserFactory(user_id="disabled", is_active=False)
    return active, disabled


def claims(user: User) -> dict:
    """The claims of a token issued to the user now (they carry the password's stamp)."""
    return dict(AccessToken.for_user(user).payload)


async def test_heartbeats_share_one_read_and_each_gets_its_own_answer(reads):
    active, disabled = await accounts()
    checks = AccountChecks(asyncio.get_running_loop())
    wait = AccountChecks.HEARTBEAT_WAIT
    answers = await asyncio.gather(
        checks.refusal(user_pk=active.pk, claims=claims(active), wait=wait),
        checks.refusal(user_pk=disabled.pk, claims=claims(disabled), wait=wait),
        checks.refusal(user_pk=active.pk, claims=claims(active), wait=wait),
        checks.refusal(user_pk=10**9, claims={}, wait=wait),
    )
    assert answers == [None, CLOSE_DISABLED, None, CLOSE_BAD_TOKEN]
    assert reads == [sorted([active.pk, disabled.pk, 10**9])]


async def test_a_frame_someone_waits_on_does_not_wait_for_the_heartbeat_window(reads):
    active, _disabled = await accounts()
    checks = AccountChecks(asyncio.get_running_loop())
    heartbeat = asyncio.create_task(
        checks.refusal(user_pk=active.pk, claims=claims(active), wait=30)
    )
    await asyncio.sleep(0)
    # A send arrives: the read is brought forward and the heartbeat goes with it.
    assert (
        await asyncio.wait_for(checks.refusal(user_pk=active.pk, claims=claims(active)), 5) is None
    )
    assert await asyncio.wait_for(heartbeat, 1) is None
    assert reads == [[active.pk]]


async def test_each_check_reads_the_account_after_it_was_asked(reads):
    active, _disabled = await accounts()
    checks = AccountChecks(asyncio.get_running_loop())
    assert await checks.refusal(user_pk=active.pk, claims=claims(active)) is None
    await sync_to_async(User.objects.filter(pk=active.pk).update)(is_active=False)
    assert await checks.refusal(user_pk=active.pk, claims=claims(active)) == CLOSE_DISABLED
    assert len(reads) == 2


async def test_a_database_outage_reaches_every_waiting_frame(monkeypatch):
    async def down(pks: list[int], sids=()):
        raise OperationalError(2002, "Can't connect to MySQL server")

    monkeypatch.setattr(auth, "_active_and_password", down)
    checks = AccountChecks(asyncio.get_running_loop())
    results = await asyncio.gather(
        checks.refusal(user_pk=1, claims={}, wait=0.01),
        checks.refusal(user_pk=2, claims={}, wait=0.01),
        return_exceptions=True,
    )
    assert all(isinstance(r, OperationalError) for r in results)
    # The next check reads again (nothing is left stuck as "reading").
    monkeypatch.undo()
    assert await checks.refusal(user_pk=10**9, claims={}) == CLOSE_BAD_TOKEN
