"""Two installations (or the tests and a running system) on one Redis keep to their own keys:
every key an installation writes carries its REDIS_PREFIX, Celery's queue included, so a
worker of another installation never takes its tasks (which carry its database ids)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import websockets
from django.conf import settings

from messages import services as message_services
from tests.conftest import token_for
from tests.factories import PASSWORD, UserFactory
from tests.faults.procs import PrivateRedis
from tests.live.conftest import ROOT

pytestmark = pytest.mark.live

PREFIX = "insta"
OTHER = "instb"
# What a worker logs for each task it takes: "Task notifications.message_notify[<id>] received".
RECEIVED = "] received"


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of this test's own: every key in it was written by the processes here."""
    started = PrivateRedis()
    yield started
    started.stop()


def keys(url: str) -> set[str]:
    client = redis.Redis.from_url(url)
    try:
        return {key.decode() for key in client.scan_iter(count=1000)}
    finally:
        client.close()


class Worker:
    """`celery -A messenger worker` as production runs it (gossip, mingle and heartbeat on)."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.log_path = ROOT / "test-artifacts" / f"celery-{prefix}-{uuid.uuid4().hex[:6]}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115
        env = dict(
            os.environ,
            MYSQL_DATABASE=settings.DATABASES["default"]["NAME"],
            REDIS_URL=redis_url,
            CELERY_BROKER_URL=redis_url,
            REDIS_PREFIX=prefix,
            CELERY_TASK_ALWAYS_EAGER="0",
        )
        cmd = [sys.executable, "-m", "celery", "-A", "messenger", "worker", "-l", "info"]
        cmd += ["--concurrency", "1", "-n", f"{prefix}@%h"]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self.log, stderr=self.log, start_new_session=True
        )
        self.wait_for("ready.", 90)

    def text(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker never logged {needle!r}:\n{self.text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        self.log.close()


def test_every_redis_key_carries_the_prefix_and_other_workers_leave_the_tasks(
    start_server, private_redis
):
    alice = UserFactory(user_id="alice", name="앨리스")
    bob = UserFactory(user_id="bob", name="밥")
    room, _ = message_services.room_open_direct(actor=alice, peer=bob)
    assert keys(private_redis.url) == set()
    env = {
        "REDIS_URL": private_redis.url,
        "CELERY_BROKER_URL": private_redis.url,
        "REDIS_PREFIX": PREFIX,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "NOTIFICATIONS_ENABLED": "1",
        # No link previews: their task would fetch the link from the internet.
        "MESSENGER_LINK_PREVIEWS": "0",
    }
    server = start_server("uvicorn", **env)
    workers: list[Worker] = []
    try:

        async def use_it() -> None:
            # A socket (presence, fan-out), a failed and a good login (rate-limit counters), a
            # send (the send limit; a notification task queued).
            url = f"{server.ws_url}?kind=web&token={token_for(bob)}"
            async with (
                websockets.connect(url) as ws,
                httpx.AsyncClient(base_url=server.url) as http,
            ):
                bad = {"user_id": "alice", "password": "wrong"}
                assert (await http.post("/api/auth/token", json=bad)).status_code == 401
                good = {"user_id": "alice", "password": PASSWORD}
                token = (await http.post("/api/auth/token", json=good)).json()["access"]
                sent = await http.post(
                    f"/api/rooms/{room.pk}/messages",
                    json={"msg_id": str(uuid.uuid4()), "body": "안녕"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert sent.status_code == 201, sent.text
                async with asyncio.timeout(10):
                    while '"ev": "message"' not in await ws.recv():
                        pass

        asyncio.run(use_it())
        queued = keys(private_redis.url)
        unprefixed = sorted(k for k in queued if not k.startswith(f"{PREFIX}:"))
        assert unprefixed == [], unprefixed

        # Another installation's worker on the same Redis: it must not see these tasks.
        workers.append(Worker(private_redis.url, OTHER))
        time.sleep(3)
        assert RECEIVED not in workers[0].text(), workers[0].text()[-2000:]

        # This installation's worker takes them.
        workers.append(Worker(private_redis.url, PREFIX))
        workers[1].wait_for("notifications.message_notify[", 30)
        workers[1].wait_for(RECEIVED, 30)
        assert RECEIVED not in workers[0].text()

        mine, theirs = f"{PREFIX}:", f"{OTHER}:"
        found = keys(private_redis.url)
        stray = sorted(k for k in found if not k.startswith((mine, theirs)))
        assert stray == [], stray
        print(
            f"[redis prefix] {len(found)} keys after a send and two workers: "
            f"{sum(k.startswith(mine) for k in found)} {mine}*, "
            f"{sum(k.startswith(theirs) for k in found)} {theirs}*, 0 others"
        )
    finally:
        for worker in workers:
            worker.stop()
