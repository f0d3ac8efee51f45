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


def _stop(server: subprocess.Popen) -> None:
    """Stop a server this test started; a daphne that does not end on SIGTERM is killed."""
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


def _serve_embedded(env: dict[str, str], log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        + ["messenger.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                _stop(server)
                raise
            time.sleep(0.2)


def test_embedded_default_seeds_serves_and_chats(tmp_path):
    env = embedded_env(tmp_path)
    assert manage("migrate", "--no-input", "-v0", env=env).returncode == 0
    seeded = manage("seed_demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "lim.jaewon" in seeded.stdout and "demo1234!" in seeded.stdout
    assert (tmp_path / "messenger.sqlite3").exists()
    again = manage("seed_demo", "--if-empty", env=env)
    assert again.returncode == 0 and "Demo logins" in again.stdout

    server, base = _serve_embedded(env, subprocess.DEVNULL)
    port = base.rsplit(":", 1)[1]
    try:
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
        _stop(server)


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


CROWD = (
    "lim.jaewon",
    "jang.minseo",
    "han.jiwoo",
    "oh.seojun",
    "seo.hayoon",
    "kwon.chaewon",
)


def test_embedded_default_takes_concurrent_writes(tmp_path):
    """The first thing a newcomer does on `./run`: three files picked at once, six people
    sending at the same moment over REST and sockets. Every request succeeds and every message
    is stored once, with gap-free seqs."""
    env = embedded_env(tmp_path)
    env["SQLITE_PATH"] = str(tmp_path / "crowd.sqlite3")
    assert manage("migrate", "--no-input", "-v0", env=env).returncode == 0
    assert manage("seed_demo", env=env).returncode == 0
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server, base = _serve_embedded(env, log)
        try:
            asyncio.run(asyncio.wait_for(_crowd(base), 90))
        finally:
            _stop(server)
    assert "database is locked" not in log_path.read_text()


async def _crowd(base: str) -> None:
    sends_each = 5
    files = 3
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def login(user_id: str) -> str:
            answer = await http.post(
                "/api/auth/token", json={"user_id": user_id, "password": "demo1234!"}
            )
            assert answer.status_code == 200, answer.text
            return answer.json()["access"]

        tokens = dict(zip(CROWD, await asyncio.gather(*map(login, CROWD)), strict=True))
        auth = {u: {"Authorization": f"Bearer {t}"} for u, t in tokens.items()}
        created = await http.post(
            "/api/rooms",
            headers=auth[CROWD[0]],
            json={"member_ids": list(CROWD[1:]), "name": "동시 전송"},
        )
        assert created.status_code == 201, created.text
        room_id = created.json()["room_id"]
        ws = base.replace("http", "ws") + "/ws/?kind=web&token="
        sockets = await asyncio.gather(*(websockets.connect(ws + tokens[u]) for u in CROWD))
        try:

            async def rest_sends(user_id: str) -> list[int]:
                async def one(i: int) -> int:
                    answer = await http.post(
                        f"/api/rooms/{room_id}/messages",
                        headers=auth[user_id],
                        json={"msg_id": str(uuid.uuid4()), "body": f"{user_id} REST {i}"},
                    )
                    assert answer.status_code == 201, answer.text
                    return answer.json()["seq"]

                return await asyncio.gather(*(one(i) for i in range(sends_each)))

            async def socket_sends(socket) -> list[int]:
                ids = [str(uuid.uuid4()) for _ in range(sends_each)]
                for i, request_id in enumerate(ids):
                    data = {"room_id": room_id, "msg_id": request_id, "body": f"socket {i}"}
                    await socket.send(
                        json.dumps({"id": request_id, "ev": "send_msg", "data": data})
                    )
                acks: dict[str, dict] = {}
                while len(acks) < len(ids):
                    frame = json.loads(await socket.recv())
                    if frame.get("ack") in ids:
                        acks[frame["ack"]] = frame
                assert all(a["ok"] for a in acks.values()), [
                    a for a in acks.values() if not a["ok"]
                ]
                return [a["data"]["seq"] for a in acks.values()]

            async def upload(i: int) -> list[int]:
                answer = await http.post(
                    f"/api/rooms/{room_id}/files",
                    headers=auth[CROWD[0]],
                    data={"msg_ids": str(uuid.uuid4())},
                    files={
                        "files": (f"보고서-{i}.txt", f"내용 {i}\n".encode() * 2000, "text/plain")
                    },
                )
                assert answer.status_code == 201, answer.text
                return [m["seq"] for m in answer.json()["messages"]]

            results = await asyncio.gather(
                *(upload(i) for i in range(files)),
                *(rest_sends(u) for u in CROWD),
                *(socket_sends(s) for s in sockets),
            )
        finally:
            await asyncio.gather(*(s.close() for s in sockets))
        seqs = sorted(seq for result in results for seq in result)
        expected = files + 2 * sends_each * len(CROWD)
        page = await http.get(
            f"/api/rooms/{room_id}/messages", params={"limit": 200}, headers=auth[CROWD[1]]
        )
        stored = [m for m in page.json()["messages"] if m["type"] in ("talk", "file")]
        assert len(stored) == expected
        assert seqs == list(range(seqs[0], seqs[0] + expected))
        assert sorted(m["seq"] for m in stored) == seqs
