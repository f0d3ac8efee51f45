"""The embedded default (no variables: SQLite, in-memory layer) and the production guard."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest
import websockets

from tests.live.conftest import ROOT, free_port

pytestmark = pytest.mark.live

CONFIG_VARS = ("MYSQL_DATABASE", "MYSQL_USER", "MYSQL_HOST", "REDIS_URL", "DJANGO_DEBUG")


def embedded_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env["MESSENGER_VAR_DIR"] = str(tmp_path)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_embedded_default_seeds_serves_and_chats(tmp_path):
    env = embedded_env(tmp_path)
    assert manage("migrate", "--no-input", "-v0", env=env).returncode == 0
    seeded = manage("seed_demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "lim.jaewon" in seeded.stdout and "demo1234!" in seeded.stdout
    assert (tmp_path / "messenger.sqlite3").exists()
    again = manage("seed_demo", "--if-empty", env=env)
    assert again.returncode == 0 and "Demo logins" in again.stdout

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        + ["messenger.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        page = httpx.get(f"{base}/")
        assert page.status_code == 200 and "<html" in page.text.lower()

        def login(user_id: str) -> str:
            answer = httpx.post(
                f"{base}/api/auth/token", json={"user_id": user_id, "password": "demo1234!"}
            )
            assert answer.status_code == 200, answer.text
            return answer.json()["access"]

        jaewon, minseo = login("lim.jaewon"), login("jang.minseo")
        rooms = httpx.get(f"{base}/api/rooms", headers={"Authorization": f"Bearer {jaewon}"})
        direct = next(r for r in rooms.json()["rooms"] if r["kind"] == "direct")

        async def chat() -> None:
            url = f"ws://127.0.0.1:{port}/ws/?kind=web&token="
            async with websockets.connect(url + jaewon) as a, websockets.connect(url + minseo) as b:
                await a.send(
                    json.dumps(
                        {
                            "id": "1",
                            "ev": "send_msg",
                            "data": {
                                "room_id": direct["room_id"],
                                "msg_id": str(uuid.uuid4()),
                                "body": "임베디드 기본값에서 안녕하세요",
                            },
                        }
                    )
                )
                async with asyncio.timeout(10):
                    while True:
                        frame = json.loads(await b.recv())
                        if frame.get("ev") == "message":
                            break
                assert frame["data"]["body"] == "임베디드 기본값에서 안녕하세요"
                assert frame["data"]["sender"] == "lim.jaewon"

        asyncio.run(chat())
    finally:
        server.terminate()
        server.wait(10)


def test_production_mode_refuses_to_start_without_its_settings(tmp_path):
    env = embedded_env(tmp_path)
    env["DJANGO_DEBUG"] = "0"
    env.pop("DJANGO_SECRET_KEY", None)
    env.pop("DJANGO_ALLOWED_HOSTS", None)
    result = manage("check", env=env)
    assert result.returncode != 0
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "MYSQL_DATABASE", "REDIS_URL"):
        assert name in result.stderr
    env.update(
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_ALLOWED_HOSTS="chat.example.com",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "MYSQL_DATABASE" in result.stderr and "REDIS_URL" not in result.stderr
