"""Private services and server processes for the fault tests, all on 127.0.0.1.

The shared MariaDB and Redis are never touched: every fault test kills and restarts its own
redis-server and mariadbd (own port, own data directory under a temp dir), and the ASGI
servers and Celery workers it starts are pointed at them with the production settings
(DJANGO_DEBUG=0).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import rss_kb
from bench.env import free_port
from messenger.gateway.uvicorn_protocol import UVICORN_OPTIONS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
FULL = os.environ.get("MESSENGER_FAULTS_FULL", "") not in ("", "0")
DB_NAME = "messenger_faults"


def _wait(check, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready within {timeout} s")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class PrivateRedis:
    """A redis-server of our own, without persistence: a restart empties it, as a crash would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no", "--loglevel", "warning"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: _port_open(self.port), f"redis on {self.port}", 10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill()


class PrivateMariaDB:
    """A mariadbd of our own in a temp data directory; root has no password on 127.0.0.1."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="messenger-faults-db-"))
        shutil.chown(self.dir, "mysql", "mysql")
        self.port = free_port()
        self.socket = self.dir / "sock"
        self.proc: subprocess.Popen | None = None
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.dir / 'data'}",
                "--user=mysql",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.start()
        self.sql(f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    def start(self) -> None:
        cmd = [
            "mariadbd",
            "--no-defaults",
            "--user=mysql",
            f"--datadir={self.dir / 'data'}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.dir / 'pid'}",
            f"--log-error={self.dir / 'error.log'}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=64M",
            "--max-connections=500",
            # Written to the OS at each commit, flushed to disk each second: a killed mariadbd
            # loses nothing committed (the OS still has it), and the migrations run faster.
            "--innodb-flush-log-at-trx-commit=2",
            "--innodb-doublewrite=0",
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(self._alive, f"mariadb on {self.port}", 60)

    def _alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited; see {self.dir / 'error.log'}")
        result = subprocess.run(
            ["mysqladmin", "-uroot", f"--socket={self.socket}", "ping"],
            capture_output=True,
        )
        return result.returncode == 0

    def sql(self, statement: str) -> list[list[str]]:
        """Run SQL as root over the private socket; rows as lists of strings."""
        result = subprocess.run(
            ["mysql", "-uroot", f"--socket={self.socket}", "-N", "-B", DB_NAME, "-e", statement]
            if not statement.startswith("CREATE DATABASE")
            else ["mysql", "-uroot", f"--socket={self.socket}", "-e", statement],
            capture_output=True,
            text=True,
            check=True,
        )
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def kill(self) -> None:
        """SIGKILL, as a crash: InnoDB recovers what was committed at the next start."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Stack:
    """The private services and the production environment of processes that use them."""

    def __init__(self) -> None:
        self.redis = PrivateRedis()
        self.db = PrivateMariaDB()
        self.var = Path(tempfile.mkdtemp(prefix="messenger-faults-var-"))
        self.migrate()

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY="faults-" + "k" * 50,
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            MYSQL_DATABASE=DB_NAME,
            MYSQL_USER="root",
            MYSQL_PASSWORD="",
            MYSQL_HOST="127.0.0.1",
            MYSQL_PORT=str(self.db.port),
            REDIS_URL=self.redis.url,
            REDIS_PREFIX="faults",
            CELERY_BROKER_URL=self.redis.url,
            CELERY_TASK_ALWAYS_EAGER="0",
            MESSENGER_VAR_DIR=str(self.var),
            MEDIA_ROOT=str(self.var / "media"),
            LOG_LEVEL="WARNING",
            JWT_ACCESS_MINUTES="240",
            NOTIFICATIONS_ENABLED="0",
            MESSENGER_LINK_PREVIEWS="0",
            PYTHONUNBUFFERED="1",
            # Each client streams messages far faster than a person's send limit (whose refusals
            # have their own tests, tests/security/test_ratelimits.py), but the limit stays on
            # and counted in Redis, as in production: a Redis outage must not refuse sends.
            MESSENGER_RATE_SEND="100000/60s",
        )
        env.pop("MYSQL_UNIX_SOCKET", None)
        env.update(extra)
        return env

    def manage(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def migrate(self) -> None:
        self.manage("migrate", "--no-input", "-v0")

    def python(self, code: str, timeout: float = 300) -> Any:
        """Run code in a Django process on the private services; it prints one JSON value."""
        script = "import django, json\ndjango.setup()\n" + code
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=self.env(DJANGO_SETTINGS_MODULE="messenger.settings"),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"helper script failed:\n{result.stderr[-3000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def seed(self, function: str, **args: Any) -> Any:
        """Call a function of tests/faults/seed.py on the private database; its JSON result."""
        return self.python(
            f"from tests.faults.seed import {function}\n"
            f"print(json.dumps({function}(**json.loads({json.dumps(args)!r}))))"
        )

    def stop(self) -> None:
        self.redis.stop()
        self.db.stop()
        shutil.rmtree(self.var, ignore_errors=True)


class AppServer:
    """One uvicorn process serving the application on a fixed port (kept across restarts)."""

    def __init__(self, stack: Stack, name: str, **env: str) -> None:
        self.stack = stack
        self.name = name
        self.port = free_port()
        self.extra_env = env
        self.proc: subprocess.Popen | None = None
        self.log: Any = None
        self.start()

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def start(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--log-level", "warning", "--no-access-log", *UVICORN_OPTIONS]
        cmd += ["messenger.asgi:application"]
        self.log = open(ARTIFACTS / f"faults-server-{self.name}.log", "a")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.stack.env(**self.extra_env),
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited; see {self.log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.http}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"server {self.name} did not start")

    def rss_kb(self) -> int:
        return rss_kb(self.proc.pid) if self.proc else 0

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if self.log:
            self.log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.log:
            self.log.close()


class CeleryWorker:
    """`celery -A messenger worker` on the private Redis, in its own process group so that a
    SIGKILL takes the main process and its pool children at once, as a crash would."""

    def __init__(self, stack: Stack, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.log = open(ARTIFACTS / f"faults-celery-{name}.log", "w")  # noqa: SIM115
        cmd = [sys.executable, "-m", "celery", "-A", "messenger", "worker"]
        cmd += ["--concurrency", "1", "--loglevel", "INFO", "--without-gossip"]
        cmd += ["--without-mingle", "--without-heartbeat", "-n", f"{name}@faults"]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=stack.env(),
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        log_path = Path(self.log.name)
        _wait(lambda: "ready." in log_path.read_text(errors="replace"), "celery worker", 60)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
