"""Fixtures of the fault tests: one private MariaDB + Redis for the session (tests kill and
restart them, never the shared ones), server processes per test, and the figures report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.faults.procs import ARTIFACTS, FULL, AppServer, CeleryWorker, Stack

REPORT = ARTIFACTS / "faults-report.txt"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    started = Stack()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def report() -> Callable[[str], None]:
    """Print a line of figures (seen with -s) and keep it in test-artifacts/faults-report.txt."""
    ARTIFACTS.mkdir(exist_ok=True)
    lines: list[str] = [f"fault tests, {'full' if FULL else 'short (CI)'} run"]

    def write(line: str) -> None:
        print(line, flush=True)
        lines.append(line)
        REPORT.write_text("\n".join(lines) + "\n")

    return write


@pytest.fixture
def start_server(stack: Stack) -> Iterator[Callable[..., AppServer]]:
    started: list[AppServer] = []

    def start(name: str, **env: str) -> AppServer:
        server = AppServer(stack, name, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_worker(stack: Stack) -> Iterator[Callable[[str], CeleryWorker]]:
    started: list[CeleryWorker] = []

    def start(name: str) -> CeleryWorker:
        worker = CeleryWorker(stack, name)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def seed_room(stack: Stack) -> Callable[..., dict[str, Any]]:
    return lambda **args: stack.seed("room_with_members", **args)
