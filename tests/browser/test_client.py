"""The browser client end to end: two people in two browser contexts on a real daphne server;
reconnects, the offline outbox, a replaced window and a disabled account."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from messenger import realtime
from orgsync.models import User
from tests.browser.conftest import in_db_thread
from tests.browser.helpers import (
    bubble,
    company,
    direct_room,
    log_in,
    logged_in,
    open_page,
    room_item,
    send,
    send_as,
    stored_bodies,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = "<img src=x onerror=alert(1)>"
RECONNECT_TIMEOUT = 40_000


def people() -> tuple[User, User]:
    people = company()
    return people.minjun, people.seoyeon


def test_client_two_people_chat_live(server, browser, artifacts):
    minjun, seoyeon = people()
    room = direct_room(minjun, seoyeon)

    page_a, dialogs_a = open_page(browser, server.url)
    page_b, dialogs_b = open_page(browser, server.url)

    # A wrong password shows the server's error message, in the page's language, and stays on
    # the form.
    log_in(page_b, seoyeon, password="wrong-password")
    expect(page_b.locator("#login-error")).to_be_visible()
    expect(page_b.locator("#login-error")).to_contain_text("아이디 또는 비밀번호가 맞지 않거나")
    expect(page_b.locator("#app-view")).to_be_hidden()

    logged_in(page_a, minjun)
    logged_in(page_b, seoyeon)
    # The 1:1 room has no message yet: its opener lists it, the other person does not yet.
    expect(room_item(page_a, room.pk)).to_contain_text("이서연")
    expect(page_b.locator("#room-list .room")).to_have_count(0)

    # A opens the room and sends; it shows on A's right with the unread "1".
    room_item(page_a, room.pk).click()
    expect(page_a.locator("#chat-title")).to_have_text("이서연")
    hello = "안녕하세요, 회의 자료 공유드립니다."
    send(page_a, hello)
    mine = bubble(page_a, hello)
    expect(mine).to_have_attribute("data-mine", "true")
    expect(mine).to_have_attribute("data-state", "sent")
    expect(mine.locator(".msg-unread")).to_have_text("1")
    expect(page_a.locator("#composer-input")).to_have_value("")

    # B gets the room in the list, live, with the preview and an unread badge.
    item_b = room_item(page_b, room.pk)
    expect(item_b.locator(".room-name")).to_have_text("김민준")
    expect(item_b.locator(".room-preview")).to_have_text(hello)
    expect(item_b.locator(".room-unread")).to_have_text("1")

    # B opens it: the message is on B's left with A's name, and A's "1" disappears.
    item_b.click()
    theirs = bubble(page_b, hello)
    expect(theirs).to_have_attribute("data-mine", "false")
    expect(theirs.locator(".msg-sender")).to_have_text("김민준")
    expect(item_b.locator(".room-unread")).to_be_hidden()
    expect(mine.locator(".msg-unread")).to_be_hidden()

    # B replies; A sees it live on the left, and A's list shows it as the last message.
    reply = "네, 확인했습니다! 👍"
    send(page_b, reply)
    expect(bubble(page_b, reply)).to_have_attribute("data-state", "sent")
    incoming = bubble(page_a, reply)
    expect(incoming).to_have_attribute("data-mine", "false")
    expect(incoming.locator(".msg-sender")).to_have_text("이서연")
    expect(room_item(page_a, room.pk).locator(".room-preview")).to_have_text(reply)
    # A was looking at the room, so B's reply is read at once: no "1" on B's side either.
    expect(bubble(page_b, reply).locator(".msg-unread")).to_be_hidden()

    # Mine on the right, theirs on the left, in both windows.
    for page, own, other in ((page_a, hello, reply), (page_b, reply, hello)):
        own_box = bubble(page, own).locator(".bubble").bounding_box()
        other_box = bubble(page, other).locator(".bubble").bounding_box()
        pane = page.locator("#message-list").bounding_box()
        assert own_box["x"] + own_box["width"] > pane["x"] + pane["width"] * 0.8
        assert other_box["x"] < pane["x"] + pane["width"] * 0.3

    # Shift+Enter makes a new line; Enter sends.
    composer = page_a.locator("#composer-input")
    composer.fill("첫째 줄")
    composer.press("Shift+Enter")
    composer.press_sequentially("둘째 줄")
    expect(composer).to_have_value("첫째 줄\n둘째 줄")
    composer.press("Enter")
    expect(bubble(page_b, "둘째 줄").locator(".msg-body")).to_have_text("첫째 줄\n둘째 줄")

    # Markup in a body is shown as text, never run.
    send(page_a, XSS)
    expect(bubble(page_b, XSS).locator(".msg-body")).to_have_text(XSS)
    expect(bubble(page_a, XSS).locator(".msg-body")).to_have_text(XSS)
    expect(room_item(page_a, room.pk).locator(".room-preview")).to_have_text(XSS)
    assert page_b.locator("#message-list img").count() == 0
    assert page_a.locator("#message-list img, #room-list img").count() == 0
    assert dialogs_a == []
    assert dialogs_b == []

    # Every message was stored once, however many acks and pushes carried it.
    # B is looking at the room, so what A sent since is read at once: A's "1"s go away.
    expect(page_a.locator("#message-list .msg-unread:visible")).to_have_count(0)

    assert sorted(stored_bodies(room.pk)) == sorted([hello, reply, "첫째 줄\n둘째 줄", XSS])
    for page, name in ((page_a, "client-a.png"), (page_b, "client-b.png")):
        assert page.locator("#message-list .msg").count() == 4
        page.screenshot(path=artifacts / name)

    # Logging out returns to the form and forgets the tokens of this tab only.
    page_b.click("#logout-btn")
    expect(page_b.locator("#login-view")).to_be_visible()
    assert page_b.evaluate("sessionStorage.length") == 0
    assert page_a.evaluate("sessionStorage.getItem('messenger.tokens')") is not None


def test_client_catches_up_after_server_restart(server, browser, artifacts):
    minjun, seoyeon = people()
    room = direct_room(minjun, seoyeon)
    send_as(seoyeon, room.pk, "재시작 전 메시지")

    page, _dialogs = open_page(browser, server.url)
    logged_in(page, minjun)
    expect(room_item(page, room.pk).locator(".room-unread")).to_have_text("1")
    room_item(page, room.pk).click()
    expect(bubble(page, "재시작 전 메시지")).to_be_visible()

    server.stop()
    expect(page.locator("#conn-banner")).to_be_visible()
    expect(page.locator("#conn-banner")).to_have_attribute("data-state", "offline")

    # Written while A is away: by B (straight into the database) and by A (kept in the outbox).
    while_away = [f"서버 재시작 중 메시지 {n}" for n in (1, 2)]
    for body in while_away:
        send_as(seoyeon, room.pk, body)
    send(page, "오프라인에서 보낸 메시지")
    expect(bubble(page, "오프라인에서 보낸 메시지")).to_have_attribute("data-state", "sending")
    page.screenshot(path=artifacts / "client-offline.png")

    server.start()
    expect(page.locator("#conn-banner")).to_be_hidden(timeout=RECONNECT_TIMEOUT)
    expect(bubble(page, "오프라인에서 보낸 메시지")).to_have_attribute(
        "data-state", "sent", timeout=RECONNECT_TIMEOUT
    )
    for body in while_away:
        expect(bubble(page, body)).to_have_count(1)
        expect(bubble(page, body)).to_have_attribute("data-mine", "false")
    expect(page.locator("#message-list .msg")).to_have_count(4)
    assert stored_bodies(room.pk).count("오프라인에서 보낸 메시지") == 1
    # Seen after the reconnect, so read: the room list has no badge.
    expect(room_item(page, room.pk).locator(".room-unread")).to_be_hidden()


def test_client_replaced_by_newer_window(server, browser, artifacts):
    minjun, _seoyeon = people()
    first, _ = open_page(browser, server.url)
    logged_in(first, minjun)

    second, _ = open_page(browser, server.url)
    logged_in(second, minjun)

    banner = first.locator("#conn-banner")
    expect(banner).to_have_attribute("data-state", "replaced")
    expect(banner).to_contain_text("다른 창")
    expect(first.locator("#composer-input")).to_be_disabled()
    first.screenshot(path=artifacts / "client-replaced.png")
    # It stays replaced (no reconnect that would in turn replace the newer window).
    first.wait_for_timeout(2500)
    expect(banner).to_have_attribute("data-state", "replaced")
    expect(second.locator("body")).to_have_attribute("data-conn", "online")

    # Taking the session back is explicit.
    first.click("#conn-retry")
    expect(first.locator("body")).to_have_attribute("data-conn", "online")
    expect(second.locator("#conn-banner")).to_have_attribute("data-state", "replaced")


def test_client_logs_out_when_account_disabled(server, browser):
    minjun, _seoyeon = people()
    page, _ = open_page(browser, server.url)
    logged_in(page, minjun)

    def disable() -> None:
        User.objects.filter(pk=minjun.pk).update(is_active=False)
        realtime.close_user_sessions(minjun.pk, 4003)

    in_db_thread(disable)
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("사용 중지")
    assert page.evaluate("Object.keys(sessionStorage)") == []


def test_client_late_answer_after_logout_stores_nothing(server, browser):
    """A /api/me answered while the account was still active, arriving after the 4003 logout,
    must not write the profile back into the tab (it did: CI saw one key left)."""
    minjun, _seoyeon = people()
    page, _ = open_page(browser, server.url)
    logged_in(page, minjun)

    held = []
    page.route("**/api/me", lambda route: held.append((route, route.fetch())))
    # A reconnect re-reads the profile; its answer (200) is held back.
    in_db_thread(realtime.close_user_sessions, minjun.pk, 4999)
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the reconnect did not ask for /api/me"
    route, answer = held[0]
    assert answer.status == 200

    def disable() -> None:
        User.objects.filter(pk=minjun.pk).update(is_active=False)
        realtime.close_user_sessions(minjun.pk, 4003)

    in_db_thread(disable)
    expect(page.locator("#login-view")).to_be_visible()
    route.fulfill(response=answer)
    page.evaluate("new Promise((resolve) => setTimeout(resolve, 500))")
    assert page.evaluate("Object.keys(sessionStorage)") == []
    expect(page.locator("#login-error")).to_contain_text("사용 중지")
    expect(page.locator("#toast")).to_be_hidden()


def test_client_offline_message_lands_once_after_reload(server, browser, artifacts):
    minjun, seoyeon = people()
    room = direct_room(minjun, seoyeon)
    send_as(seoyeon, room.pk, "연결 끊기기 전 메시지")

    page, _dialogs = open_page(browser, server.url)
    # The network, under the test's control: when it is off, the REST calls fail and every
    # socket is dropped at once; the page itself (HTML, scripts) still loads, as from a cache.
    network = {"up": True, "sockets": []}

    def socket_route(ws) -> None:
        if network["up"]:
            ws.connect_to_server()
            network["sockets"].append(ws)
        else:
            ws.close(code=1011, reason="offline")

    def api_route(route) -> None:
        if network["up"]:
            route.continue_()
        else:
            route.abort("internetdisconnected")

    page.context.route_web_socket(re.compile(r"/ws/"), socket_route)
    page.context.route("**/api/**", api_route)

    logged_in(page, minjun)
    room_item(page, room.pk).click()
    expect(bubble(page, "연결 끊기기 전 메시지")).to_be_visible()

    network["up"] = False
    for ws in network["sockets"]:
        ws.close(code=1011, reason="offline")
    expect(page.locator("#conn-banner")).to_have_attribute("data-state", "offline")

    typed = "지하철에서 쓴 메시지"
    send(page, typed)
    expect(bubble(page, typed)).to_have_attribute("data-state", "sending")

    # A reload while still offline keeps it: it waits in IndexedDB, shown as "sending".
    page.reload()
    expect(page.locator("#app-view")).to_be_visible()
    expect(page.locator("#conn-banner")).to_have_attribute("data-state", "offline")
    expect(bubble(page, typed)).to_have_attribute("data-state", "sending")
    expect(page.locator("#chat-title")).to_have_text("이서연")
    page.screenshot(path=artifacts / "client-offline-reload.png")
    assert stored_bodies(room.pk).count(typed) == 0

    # The network comes back: it is sent with its msg_id and lands once.
    network["up"] = True
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("body")).to_have_attribute("data-conn", "online", timeout=RECONNECT_TIMEOUT)
    expect(bubble(page, typed)).to_have_attribute("data-state", "sent")
    expect(bubble(page, typed)).to_have_count(1)
    expect(bubble(page, "연결 끊기기 전 메시지")).to_have_count(1)
    assert stored_bodies(room.pk).count(typed) == 1

    # Nothing is left to send: another reload shows it once, as sent, and sends nothing again.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-conn", "online")
    expect(bubble(page, typed)).to_have_attribute("data-state", "sent")
    expect(bubble(page, typed)).to_have_count(1)
    outbox = page.evaluate(
        """() => new Promise((resolve) => {
             const open = indexedDB.open("messenger-client");
             open.onsuccess = () => {
               const get = open.result.transaction("outbox").objectStore("outbox").getAll();
               get.onsuccess = () => resolve(get.result.length);
             };
           })"""
    )
    assert outbox == 0
    assert stored_bodies(room.pk).count(typed) == 1


def test_client_speaks_english_to_english_browsers(server, browser):
    minjun, _seoyeon = people()
    context = browser.new_context(
        viewport={"width": 1200, "height": 760}, locale="en-US", timezone_id="Asia/Seoul"
    )
    page = context.new_page()
    page.goto(f"{server.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#login-submit")).to_have_text("Log in")
    expect(page.locator("#login-password")).to_be_visible()
    logged_in(page, minjun)
    expect(page.locator("#tab-people")).to_have_text("People")
    expect(page.locator("#tab-settings")).to_have_text("Settings")
    expect(page.locator("#room-list-empty")).to_contain_text("No conversations yet.")
    expect(page.locator("#logout-btn")).to_have_attribute("aria-label", "Log out")
    page.click("#tab-settings")
    expect(page.locator("#settings-save")).to_have_text("Save")
