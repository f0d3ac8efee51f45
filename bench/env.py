"""The production configuration the benchmark starts: environment, database, servers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import rss_kb
from messenger.gateway.uvicorn_protocol import UVICORN_OPTIONS

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = os.environ.get("BENCH_MYSQL_DATABASE", "messenger_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# Redis pub/sub channels are not scoped by database number: runs that share a Redis server
# at the same time need their own prefix.
REDIS_PREFIX = os.environ.get("BENCH_REDIS_PREFIX", "bench")


def production_env() -> dict[str, str]:
    """What a production server process gets, pointed at the benchmark database."""
    env = dict(os.environ)
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-" + "k" * 50,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        MYSQL_DATABASE=BENCH_DB,
        MYSQL_USER=os.environ.get("MYSQL_USER", "root"),
        MYSQL_HOST=os.environ.get("MYSQL_HOST", ""),
        REDIS_URL=REDIS_URL,
        REDIS_PREFIX=REDIS_PREFIX,
        LOG_LEVEL="WARNING",
        # Tokens minted by the benchmark must outlive a long run.
        JWT_ACCESS_MINUTES="240",
        # One sender sends hundreds of messages a second: the per-person send limit is off.
        MESSENGER_RATE_SEND="off",
    )
    return env


def setup_django() -> None:
    """Django in this process, on BENCH_DB; a later call after BENCH_DB changed (`all` runs
    datascale, on a database of its own, after the other scenarios) moves it there."""
    os.environ.update(production_env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "messenger.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.apps import apps

    if apps.ready:
        from django.conf import settings
        from django.db import connections

        connections.close_all()
        settings.DATABASES["default"]["NAME"] = BENCH_DB
        connections["default"].settings_dict["NAME"] = BENCH_DB
        return
    django.setup()


def ensure_database() -> None:
    """Create the benchmark database if needed and migrate it (quietly); BENCH_SKIP_MIGRATE=1
    when it is known to be migrated (the smoke tests run on the test database)."""
    if os.environ.get("BENCH_SKIP_MIGRATE") == "1":
        return
    subprocess.run(
        [
            "mysql",
            "-uroot",
            "-e",
            f"CREATE DATABASE IF NOT EXISTS {BENCH_DB} "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        ],
        check=True,
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=production_env(),
        check=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process on a free 127.0.0.1 port: ours (daphne or uvicorn) or the baseline."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.port = free_port()
        env = production_env()
        if kind == "uvicorn":
            cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(self.port)]
            cmd += ["--log-level", "warning", "--no-access-log", *UVICORN_OPTIONS]
            cmd += ["messenger.asgi:application"]
        elif kind == "daphne":
            cmd = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
            cmd += ["messenger.asgi:application"]
        elif kind == "socketio":
            node = shutil.which("node")
            if node is None:
                raise RuntimeError("node is not installed: the socket.io baseline needs it")
            if not (ROOT / "bench" / "socketio" / "node_modules").exists():
                subprocess.run(
                    ["npm", "install", "--no-audit", "--no-fund", "--silent"],
                    cwd=ROOT / "bench" / "socketio",
                    check=True,
                )
            cmd = [node, "server.js", str(self.port), REDIS_URL, f"{REDIS_PREFIX}-socketio"]
        else:
            raise ValueError(kind)
        cwd = ROOT / "bench" / "socketio" if kind == "socketio" else ROOT
        # BENCH_PROFILE=<folder>: our servers run under py-spy, which writes its samples
        # there (collapsed stacks, `<kind>-<port>.txt`) when the server stops.
        self.profile = os.environ.get("BENCH_PROFILE") if kind != "socketio" else None
        if self.profile:
            Path(self.profile).mkdir(parents=True, exist_ok=True)
            out = Path(self.profile).resolve() / f"{kind}-{self.port}.txt"
            spy = [str(Path(sys.executable).with_name("py-spy")), "record", "-r", "250"]
            cmd = [*spy, "--nonblocking", "-f", "raw", "-o", str(out), "--", *cmd]
        # A file, not a pipe: nobody reads a pipe while the run lasts, and a server that logs
        # more than the pipe holds (64 KB) blocks in its next write, event loop and all.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=self.log
        )
        self._wait_ready()

    def log_text(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        if self.kind == "socketio":
            return f"ws://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=websocket"
        return f"ws://127.0.0.1:{self.port}/ws/?kind=web&token="

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited: {self.log_text()[-2000:]}")
            try:
                if httpx.get(f"{self.http}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.kind} server did not start within {timeout} s")

    def rss_kb(self) -> int:
        return rss_kb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            # py-spy writes its samples on SIGINT, and stops the server with it.
            self.proc.send_signal(signal.SIGINT if self.profile else signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.log.closed:
            return
        # A server that logged errors is said so: its figures may not be what they seem.
        lines = self.log_text().splitlines()
        self.log.close()
        errors = [line for line in lines if " ERROR " in line or line.startswith("Traceback")]
        if errors:
            print(
                f"  {self.kind} server on port {self.port} logged {len(errors)} errors; "
                f"first: {errors[0][:300]}",
                file=sys.stderr,
                flush=True,
            )
