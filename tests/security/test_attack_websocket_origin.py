"""Cross-site WebSocket hijacking: a page of another site opening the gateway with the user's
cookie (or token) is refused at connect; the site's own pages and the ERP portal are not."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from messenger.asgi import application
from tests.conftest import token_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "chat.example.com"
ERP = "https://erp.example.com"


@pytest.fixture
def site(settings):
    settings.ALLOWED_HOSTS = [HOST]
    settings.MESSENGER_WS_ORIGINS = [ERP]
    return settings


@pytest.fixture
async def token():
    user = await sync_to_async(UserFactory)(user_id="victim", name="피해자")
    return await sync_to_async(token_for)(user)


async def _connect(token: str, *, origin: str | None, host: str = HOST, cookie: bool = True):
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    path = "/ws/?kind=web"
    if cookie:
        # What a browser attaches on its own: the hijacking page never sees the token.
        headers.append((b"cookie", f"access_token={token}".encode()))
    else:
        path += f"&token={token}"
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _code = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://evil.example",
        "null",  # sandboxed frames, file: pages
        "https://chat.example.com.evil.net",
        "https://evil.net/chat.example.com",
        "https://chat.example.com@evil.net",
        "https://chat.example.com:8443",  # another site on the same host
        "https://sub.chat.example.com",
        "https://erp.example.com.evil.net",
        "http://erp.example.com",  # the portal listed with https only
        "chrome-extension://abcdefghijklmnop",
        "file://",
        "",
        "https://[::1",
    ],
)
async def test_attack_websocket_cross_site_origin_is_refused(site, token, origin):
    assert await _connect(token, origin=origin) is False


async def test_attack_websocket_cross_site_origin_is_refused_with_any_allowed_hosts(site, token):
    # A permissive ALLOWED_HOSTS must not open the socket to every page on the web.
    site.ALLOWED_HOSTS = ["*"]

    assert await _connect(token, origin="https://evil.example") is False
    assert await _connect(token, origin="https://evil.example", cookie=False) is False
    assert await _connect(token, origin=f"https://{HOST}") is True


async def test_attack_websocket_rebound_host_is_refused(site, token):
    # DNS rebinding: evil.example now points at our server, so Origin and Host agree; the
    # host is not ours.
    assert await _connect(token, origin="http://evil.example", host="evil.example") is False


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (f"https://{HOST}", HOST),
        (f"http://{HOST}", HOST),
        (f"https://{HOST}:8443", f"{HOST}:8443"),
        ("HTTPS://CHAT.EXAMPLE.COM", HOST),
        (ERP, HOST),
        (None, HOST),  # not a browser: it holds the token itself
    ],
)
async def test_attack_websocket_own_pages_and_the_portal_are_accepted(site, token, origin, host):
    assert await _connect(token, origin=origin, host=host) is True
