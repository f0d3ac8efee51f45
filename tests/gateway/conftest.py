from __future__ import annotations

import json
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from messenger.asgi import application
from orgsync.models import User
from tests.conftest import token_for


class Client:
    """A WebSocket client for the gateway, speaking the {"id","ev","data"} protocol."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator
        self.counter = 0
        self.pushes: list[dict[str, Any]] = []

    async def request(self, ev: str, data: Any = None, timeout: float = 5) -> dict[str, Any]:
        self.counter += 1
        request_id = f"r{self.counter}"
        frame: dict[str, Any] = {"id": request_id, "ev": ev}
        if data is not None:
            frame["data"] = data
        await self.ws.send_to(text_data=json.dumps(frame))
        return await self.ack(request_id, timeout)

    async def ack(self, request_id: Any, timeout: float = 5) -> dict[str, Any]:
        while True:
            frame = json.loads(await self.ws.receive_from(timeout))
            if "ack" in frame and frame["ack"] == request_id:
                return frame
            self.pushes.append(frame)

    async def push(self, ev: str, timeout: float = 5) -> dict[str, Any]:
        for i, frame in enumerate(self.pushes):
            if frame.get("ev") == ev:
                return self.pushes.pop(i)
        while True:
            frame = json.loads(await self.ws.receive_from(timeout))
            if frame.get("ev") == ev:
                return frame
            self.pushes.append(frame)

    async def no_push(self, ev: str, timeout: float = 0.3) -> bool:
        """True when no push of this event arrives within the timeout.

        Uses receive_nothing: a timed-out receive_from would cancel the application."""
        if any(frame.get("ev") == ev for frame in self.pushes):
            return False
        while not await self.ws.receive_nothing(timeout):
            frame = json.loads(await self.ws.receive_from(1))
            if frame.get("ev") == ev:
                return False
            self.pushes.append(frame)
        return True


async def connect(user: User | None, *, kind: str = "web", token: str | None = None) -> Client:
    raw = token if token is not None else (token_for(user) if user else "")
    communicator = WebsocketCommunicator(application, f"/ws/?kind={kind}&token={raw}")
    connected, _code = await communicator.connect(timeout=5)
    assert connected
    return Client(communicator)


@pytest.fixture
async def clients():
    opened: list[Client] = []

    async def open_client(user: User | None, **kwargs: Any) -> Client:
        client = await connect(user, **kwargs)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        await client.ws.disconnect()
