"""Real ASGI server processes on 127.0.0.1, on the test database and the shared Redis layer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from bench.env import free_port
from messenger.gateway.uvicorn_protocol import UVICORN_OPTIONS

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    def __init__(self, server: str = "daphne", **env_extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/"
        env = dict(os.environ, MYSQL_DATABASE=settings.DATABASES["default"]["NAME"], **env_extra)
        if server == "uvicorn":
            cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port"]
            cmd += [str(self.port), "--log-level", "warning", *UVICORN_OPTIONS]
            cmd += ["messenger.asgi:application"]
        else:
            cmd = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
            cmd += ["messenger.asgi:application"]
        self.log = open(ROOT / "test-artifacts" / f"server-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=self.log)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}; see {self.log.name}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server on port {self.port} did not start in {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def start_server(transactional_db) -> Iterator:
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    started: list[ServerProcess] = []

    def start(server: str = "daphne", **env: str) -> ServerProcess:
        process = ServerProcess(server, **env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
