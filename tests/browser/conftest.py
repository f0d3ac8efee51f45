"""A real ASGI server (daphne) on the test database, and Debian's Chromium driven by Playwright.

The server runs in its own process, so the test data must be committed: browser tests use
`django_db(transaction=True)`, and the server is stopped before pytest-django empties the
tables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.db import connections

from bench.env import free_port
from tests.processes import process_start, process_stop

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def in_db_thread(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run database work beside Playwright.

    Playwright's sync API keeps an event loop running in the test's thread, and Django refuses
    database calls there; a short-lived thread of its own (with its own connection, closed at
    the end) is the plain way round.
    """

    def run() -> T:
        try:
            return work(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


class DaphneServer:
    """daphne serving messenger.asgi on 127.0.0.1:<port>, pointed at pytest-django's database.

    It can be stopped and started again on the same port, as a restart in production would.
    """

    def __init__(self, port: int, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "MYSQL_DATABASE": settings.DATABASES["default"]["NAME"],
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        command = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "messenger.asgi:application",
        ]
        self.process = process_start(
            command,
            env=env,
            log_path=self.log_path,
            ready_url=f"{self.url}/healthz",
            name="daphne",
            timeout=timeout,
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        process_stop(process)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def server(transactional_db, artifacts, request) -> Iterator[DaphneServer]:
    # Depending on transactional_db makes this teardown run before the tables are flushed,
    # so the server holds no connection or lock on them by then.
    log_path = artifacts / f"daphne-{request.node.name}.log"
    log_path.unlink(missing_ok=True)
    daphne = DaphneServer(free_port(), log_path)
    daphne.start()
    try:
        yield daphne
    finally:
        daphne.stop()


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def eager_tasks(settings) -> Iterator[None]:
    """Run the Celery tasks queued by this process (send_as) at once, as the embedded default
    does: a message sent from the test is then followed by the server's `notify` push.
    (tests/conftest.py switches notifications off elsewhere, as nothing consumes the queue.)"""
    from messenger.celery import app as celery_app

    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "ENABLED": True}
    before = celery_app.conf.get("task_always_eager")
    celery_app.conf.update(task_always_eager=True)
    try:
        yield
    finally:
        celery_app.conf.update(task_always_eager=before)
