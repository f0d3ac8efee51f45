"""The messenger in a real ERP portal on another origin: a portal page served by a second HTTP
server (this test's own, on localhost, while the messenger is on 127.0.0.1: another origin and
another site) includes embed.js from the messenger, calls its API across origins (CORS), holds
one socket for all its tabs, signs people in with ERP tickets it mints itself (HS256 and RS256),
and frames the full client; a page of an origin not listed may not frame it."""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import BrowserContext, Page, expect

from bench.env import free_port
from tests.browser.conftest import DaphneServer
from tests.browser.helpers import PASSWORD, bubble, company, direct_room, new_context, send_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ISSUER = "https://erp.example.com"
SECRET = "the ERP's shared secret, at least 32 bytes long"
TAKEOVER_TIMEOUT = 6_000


class Portal:
    """A stand-in ERP on localhost:<port>: its own login (a session cookie), its pages with
    the embed, and the one endpoint an ERP adds for the messenger (docs/sso.md): a ticket for
    whoever is logged in to the ERP, signed with the shared secret or the ERP's private key."""

    def __init__(self, port: int, private_key: Any) -> None:
        self.port = port
        self.origin = f"http://localhost:{port}"
        self.messenger = ""
        self.private_key = private_key
        self.alg = "HS256"
        self.sso = False
        self.sessions: dict[str, str] = {}
        self.tickets_served = 0
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                portal.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def ticket(self, user_id: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": "messenger",
            "sub": user_id,
            "iat": now,
            "exp": now + 60,
            "jti": str(uuid.uuid4()),
        }
        self.tickets_served += 1
        if self.alg == "HS256":
            return jwt.encode(claims, SECRET, algorithm="HS256")
        return jwt.encode(claims, self.private_key, algorithm=self.alg)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlparse(request.path)
        query = parse_qs(url.query)
        cookie = SimpleCookie(request.headers.get("Cookie", ""))
        session = cookie["erp_session"].value if "erp_session" in cookie else ""
        user_id = self.sessions.get(session)
        if url.path == "/login":
            session = secrets.token_hex(16)
            self.sessions[session] = query["user"][0]
            request.send_response(302)
            request.send_header("Set-Cookie", f"erp_session={session}; Path=/; HttpOnly")
            request.send_header("Location", "/")
            request.end_headers()
            return
        if url.path == "/erp/messenger-ticket":
            if user_id is None:
                self.answer(request, 401, "application/json", b'{"error": "log in"}')
            else:
                body = json.dumps({"ticket": self.ticket(user_id)}).encode()
                self.answer(request, 200, "application/json", body)
            return
        if url.path == "/frame":
            fragment = f"#erp_ticket={quote(self.ticket(user_id))}" if user_id else ""
            page = (
                f'<h1>ERP</h1><iframe id="messenger" title="메신저" width="1000" height="640" '
                f'src="{html.escape(self.messenger)}/{html.escape(fragment)}"></iframe>'
            )
            self.answer(request, 200, "text/html; charset=utf-8", self.page("ERP 메신저", page))
            return
        if url.path == "/":
            sso = ' data-sso-ticket-url="/erp/messenger-ticket"' if self.sso else ""
            body = (
                '<header><h1>한빛상사 ERP</h1><span id="slot"></span></header>'
                f'<script src="{html.escape(self.messenger)}/static/messenger/embed.js" '
                f'data-messenger-url="{html.escape(self.messenger)}" '
                f'data-badge-target="#slot"{sso} defer></script>'
            )
            self.answer(request, 200, "text/html; charset=utf-8", self.page("ERP 포털", body))
            return
        self.answer(request, 404, "text/plain", b"not found")

    @staticmethod
    def page(title: str, body: str) -> bytes:
        return (
            f'<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>{title}</title>'
            f'<link rel="icon" href="data:,"></head><body>{body}</body></html>'
        ).encode()

    @staticmethod
    def answer(request: BaseHTTPRequestHandler, status: int, kind: str, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("Cache-Control", "no-store")
        request.end_headers()
        request.wfile.write(body)


@pytest.fixture(scope="module")
def erp_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def portal(erp_key) -> Iterator[Portal]:
    portal = Portal(free_port(), erp_key)
    portal.thread.start()
    try:
        yield portal
    finally:
        portal.httpd.shutdown()
        portal.httpd.server_close()


@contextmanager
def running_messenger(request, artifacts, tmp_path, erp_key, portal, origin: str):
    key_file = tmp_path / "erp-public.pem"
    key_file.write_bytes(
        erp_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    log_path = artifacts / f"daphne-{request.node.name}.log"
    log_path.unlink(missing_ok=True)
    server = DaphneServer(
        free_port(),
        log_path,
        env={
            "MESSENGER_WS_ORIGINS": origin,
            "MESSENGER_ERP_ISSUER": ISSUER,
            "MESSENGER_ERP_SECRET": SECRET,
            "MESSENGER_ERP_PUBLIC_KEY_FILE": str(key_file),
        },
    )
    server.start()
    portal.messenger = server.url
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def messenger(transactional_db, artifacts, request, portal, erp_key, tmp_path):
    """The messenger on 127.0.0.1, with the ERP's keys and the portal's origin (localhost, so
    another site as well) listed."""
    with running_messenger(request, artifacts, tmp_path, erp_key, portal, portal.origin) as server:
        yield server


@pytest.fixture
def framing_messenger(transactional_db, artifacts, request, portal, erp_key, tmp_path):
    """The same, with the portal reached as 127.0.0.1:<port> listed: another origin on the same
    site, as erp.example.com and chat.example.com are. (A frame of another site gets no storage
    in browsers that block third-party storage, as headless Chromium does: docs/embed.md.)"""
    origin = f"http://127.0.0.1:{portal.port}"
    with running_messenger(request, artifacts, tmp_path, erp_key, portal, origin) as server:
        yield server


def portal_tab(context: BrowserContext, url: str, sockets: list[str]) -> Page:
    page = context.new_page()
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(url)
    return page


def embed(page: Page):
    return page.locator("#messenger-embed")


def assert_ticket_sockets(sockets: list[str]) -> None:
    assert sockets
    for url in sockets:
        query = parse_qs(urlparse(url).query)
        assert "token" not in query, url
        assert query["kind"] == ["web"] and query["ticket"][0], url


def test_cross_origin_portal_logs_in_counts_and_shares_one_socket(
    messenger, portal, browser, artifacts
):
    people = company()
    room = direct_room(people.minjun, people.seoyeon)
    context = new_context(browser, notifications=True)
    sockets: list[list[str]] = [[], [], []]

    first = portal_tab(context, f"{portal.origin}/", sockets[0])
    expect(embed(first)).to_have_attribute("data-status", "logged_out")
    # The messenger's own login from the badge, a cross-origin POST with a preflight.
    first.click("#messenger-embed-button")
    first.fill("#messenger-embed-user", people.minjun.user_id)
    first.fill("#messenger-embed-password", PASSWORD)
    first.press("#messenger-embed-password", "Enter")
    expect(embed(first)).to_have_attribute("data-status", "online")
    second = portal_tab(context, f"{portal.origin}/", sockets[1])
    third = portal_tab(context, f"{portal.origin}/", sockets[2])
    for page in (second, third):
        expect(embed(page)).to_have_attribute("data-role", "follower")
        expect(embed(page)).to_have_attribute("data-status", "online")

    send_as(people.seoyeon, room.pk, "다른 출처의 포털로")
    for page in (first, second, third):
        expect(page.locator("#messenger-embed-count")).to_have_text("1")
        expect(page).to_have_title("(1) ERP 포털")
    first.wait_for_function("window.__notes.length === 1")
    assert first.evaluate("window.__notes[0]")["body"] == "다른 출처의 포털로"
    assert second.evaluate("window.__notes.length") == third.evaluate("window.__notes.length") == 0
    # This portal has its badge at the page's left edge: the toast and the panel open
    # rightwards from it, on screen (they hang leftwards from a badge at the right).
    toast = second.locator("#messenger-embed .toast")
    expect(toast).to_be_visible()
    second.screenshot(path=artifacts / "portal-cross-origin.png")
    assert toast.bounding_box()["x"] >= 0
    third.click("#messenger-embed-button")
    panel = third.locator("#messenger-embed .panel")
    expect(panel).to_be_visible()
    assert panel.bounding_box()["x"] >= 0
    third.click("#messenger-embed-button")
    expect(panel).to_be_hidden()
    assert [len(s) for s in sockets] == [1, 0, 0]

    # The leader's tab closes: one of the two others takes the socket over.
    first.close()
    # The followers may still show the old leader's "online" for a moment: wait for the
    # election itself, which has one leader at the end.
    roles: list[str | None] = []
    for _ in range(TAKEOVER_TIMEOUT // 100):
        roles = sorted(embed(p).get_attribute("data-role") or "" for p in (second, third))
        if roles == ["follower", "leader"]:
            break
        second.wait_for_timeout(100)
    assert roles == ["follower", "leader"]
    for page in (second, third):
        expect(embed(page)).to_have_attribute("data-status", "online", timeout=TAKEOVER_TIMEOUT)
    new_leader = second if embed(second).get_attribute("data-role") == "leader" else third
    expect(embed(new_leader)).to_have_attribute("data-status", "online")
    send_as(people.seoyeon, room.pk, "넘겨받은 뒤")
    for page in (second, third):
        expect(page.locator("#messenger-embed-count")).to_have_text("2")
    new_leader.wait_for_function("window.__notes.length === 1")
    assert len(sockets[1]) + len(sockets[2]) == 1
    assert_ticket_sockets(sockets[0] + sockets[1] + sockets[2])


@pytest.mark.parametrize("alg", ["HS256", "RS256"])
def test_cross_origin_portal_signs_on_with_erp_tickets(messenger, portal, browser, alg):
    people = company()
    room = direct_room(people.minjun, people.seoyeon)
    portal.sso, portal.alg = True, alg
    context = new_context(browser, notifications=True)
    sockets: list[str] = []

    # Nobody is logged in to the ERP: the badge asks for the messenger's own login.
    page = portal_tab(context, f"{portal.origin}/", sockets)
    expect(embed(page)).to_have_attribute("data-status", "logged_out")

    # Logged in to the ERP: the badge signs on with a ticket, no password anywhere.
    page.goto(f"{portal.origin}/login?user={people.minjun.user_id}")
    expect(embed(page)).to_have_attribute("data-status", "online")
    send_as(people.seoyeon, room.pk, "티켓으로 들어온 포털에")
    expect(page.locator("#messenger-embed-count")).to_have_text("1")
    assert_ticket_sockets(sockets)

    # 메신저 열기: the full messenger opens signed in, the ticket gone from its address.
    page.click("#messenger-embed-button")
    with context.expect_page() as popup_info:
        page.get_by_role("button", name="메신저 열기").click()
    client = popup_info.value
    expect(client.locator("#me-name")).to_have_text(people.minjun.name)
    assert "erp_ticket" not in client.url
    assert portal.tickets_served == 2


def test_full_client_in_a_portal_frame_signs_on_and_chats(framing_messenger, portal, browser):
    messenger = framing_messenger
    listed = f"http://127.0.0.1:{portal.port}"
    people = company()
    room = direct_room(people.minjun, people.seoyeon)
    context = new_context(browser)
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{listed}/login?user={people.minjun.user_id}")
    page.goto(f"{listed}/frame")

    frame = page.frame_locator("#messenger")
    expect(frame.locator("#me-name")).to_have_text(people.minjun.name)
    expect(frame.locator("body")).to_have_attribute("data-conn", "online")
    frame.locator(f'#room-list [data-room-id="{room.pk}"]').click()
    send_as(people.seoyeon, room.pk, "액자 속 메신저에게")
    expect(bubble(frame, "액자 속 메신저에게")).to_be_visible()
    composer = frame.locator("#composer-input")
    composer.fill("액자 속에서 답장")
    composer.press("Enter")
    expect(bubble(frame, "액자 속에서 답장")).to_have_attribute("data-state", "sent")
    inner = next(f for f in page.frames if f.url.startswith(messenger.url))
    assert "erp_ticket" not in inner.url
    assert_ticket_sockets(sockets)


def test_full_client_is_not_framed_by_an_unlisted_origin(framing_messenger, portal, browser):
    people = company()
    context = new_context(browser)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    # The same portal server, reached as localhost: an origin the messenger does not list.
    page.goto(f"{portal.origin}/login?user={people.minjun.user_id}")
    page.goto(f"{portal.origin}/frame")

    page.wait_for_timeout(1_500)
    assert any("frame-ancestors" in text for text in console), console
    frame = page.frame_locator("#messenger")
    assert frame.locator("#login-view").count() == 0
