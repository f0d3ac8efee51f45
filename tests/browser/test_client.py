"""The browser client end to end: two people in two browser contexts on a real daphne server."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from messages import services as message_services
from messages.models import Message
from messenger import realtime
from orgsync.models import User
from tests.browser.conftest import in_db_thread
from tests.factories import PASSWORD, OrgFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = "<img src=x onerror=alert(1)>"
RECONNECT_TIMEOUT = 40_000


def people() -> tuple[User, User]:
    def make() -> tuple[User, User]:
        org = OrgFactory(name="플랫폼팀")
        minjun = UserFactory(user_id="minjun.kim", name="김민준", org=org, job="백엔드 개발")
        seoyeon = UserFactory(user_id="seoyeon.lee", name="이서연", org=org, job="프론트엔드 개발")
        return minjun, seoyeon

    return in_db_thread(make)


def direct_room(a: User, b: User):
    room, _created = in_db_thread(message_services.room_open_direct, actor=a, peer=b)
    return room


def send_as(user: User, room_id: int, body: str) -> None:
    in_db_thread(
        message_services.message_send, actor=user, room_id=room_id, msg_id=uuid.uuid4(), body=body
    )


def stored_bodies(room_id: int) -> list[str]:
    return in_db_thread(
        lambda: list(Message.objects.filter(room_id=room_id).values_list("body", flat=True))
    )


def open_page(browser: Browser, base_url: str) -> tuple[Page, list[str]]:
    """A new browser context (another person) on the client, recording any JS dialog."""
    context = browser.new_context(
        viewport={"width": 1180, "height": 760}, locale="ko-KR", timezone_id="Asia/Seoul"
    )
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"{base_url}/")
    return page, dialogs


def log_in(page: Page, user: User, password: str = PASSWORD) -> None:
    page.fill("#login-user-id", user.user_id)
    page.fill("#login-password", password)
    page.click("#login-submit")


def logged_in(page: Page, user: User) -> None:
    log_in(page, user)
    expect(page.locator("#me-name")).to_have_text(user.name)
    expect(page.locator("body")).to_have_attribute("data-conn", "online")


def room_item(page: Page, room_id: int):
    return page.locator(f'#room-list [data-room-id="{room_id}"]')


def bubble(page: Page, body: str):
    return page.locator(".msg").filter(has=page.locator(".msg-body", has_text=body))


def send(page: Page, text: str) -> None:
    composer = page.locator("#composer-input")
    composer.fill(text)
    composer.press("Enter")


def test_client_two_people_chat_live(server, browser, artifacts):
    minjun, seoyeon = people()
    room = direct_room(minjun, seoyeon)

    page_a, dialogs_a = open_page(browser, server.url)
    page_b, dialogs_b = open_page(browser, server.url)

    # A wrong password shows the server's error message and stays on the form.
    log_in(page_b, seoyeon, password="wrong-password")
    expect(page_b.locator("#login-error")).to_be_visible()
    expect(page_b.locator("#login-error")).to_contain_text("No active account")
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
    assert page_a.evaluate("sessionStorage.length") == 1


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
    assert page.evaluate("sessionStorage.length") == 0
