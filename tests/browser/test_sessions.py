"""The lost phone, in real Chromium: the same person signed in on two devices (two browser
contexts), the laptop signs the phone out from the settings page, and the phone's next action
lands on the login form. Then a new password from the settings page: this device goes on, the
others are signed out, the new password is the one that logs in."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from orgsync.models import LoginSession
from tests.browser.conftest import in_db_thread
from tests.browser.helpers import (
    VIEWPORT,
    company,
    direct_room,
    log_in,
    logged_in,
    room_item,
    stored_bodies,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918N) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36"
)
NEW_PASSWORD = "Blue-harbour-7741"


def device(browser: Browser, base_url: str, *, user_agent: str | None = None) -> Page:
    context = browser.new_context(
        viewport=VIEWPORT, locale="ko-KR", timezone_id="Asia/Seoul", user_agent=user_agent
    )
    page = context.new_page()
    page.goto(f"{base_url}/")
    return page


def open_settings(page: Page) -> None:
    page.click("#tab-settings")
    expect(page.locator("#panel-settings")).to_be_visible()


def live_sessions(user) -> list[tuple[int, str]]:
    return in_db_thread(
        lambda: list(
            LoginSession.objects.filter(user=user, ended_at=None)
            .order_by("pk")
            .values_list("pk", "browser")
        )
    )


def test_sign_the_lost_phone_out_from_the_settings_page(server, browser, artifacts):
    people = company()
    room = direct_room(people.minjun, people.seoyeon)
    phone = device(browser, server.url, user_agent=PHONE_AGENT)
    logged_in(phone, people.minjun)
    laptop = device(browser, server.url)
    log_in(laptop, people.minjun)
    expect(laptop.locator("#me-name")).to_have_text(people.minjun.name)

    open_settings(laptop)
    items = laptop.locator("#sessions-list .session-item")
    expect(items).to_have_count(2)
    here = items.filter(has=laptop.locator(".session-here"))
    expect(here).to_have_count(1)
    expect(here).to_contain_text("이 기기")
    # The browser client signs in as a web device.
    expect(here).to_contain_text("(웹)")
    expect(here.locator("button")).to_have_count(0)
    lost = items.filter(has_text="Samsung Internet 25 on Android")
    expect(lost).to_contain_text("비밀번호")
    laptop.screenshot(path=str(artifacts / "sessions-list.png"), full_page=True)

    lost.get_by_role("button", name="로그아웃").click()

    expect(items).to_have_count(1)
    expect(laptop.locator("#sessions-status")).to_contain_text("로그아웃시켰습니다")
    expect(laptop.locator("#sessions-end-others")).to_be_hidden()
    assert [browser_name for _pk, browser_name in live_sessions(people.minjun)] != [
        "Samsung Internet 25 on Android"
    ]
    assert len(live_sessions(people.minjun)) == 1

    # The phone's next action: opening a chat. It lands on the login form, told why.
    room_item(phone, room.pk).click()
    expect(phone.locator("#login-view")).to_be_visible()
    expect(phone.locator("#login-error")).to_have_text(
        "이 기기는 로그아웃되었습니다. 다시 로그인하세요."
    )
    # The laptop goes on.
    laptop.click("#tab-chats")
    room_item(laptop, room.pk).click()
    expect(laptop.locator("#login-view")).to_be_hidden()
    expect(laptop.locator("#composer-input")).to_be_enabled()

    # Logging out on the laptop ends its session on the server too.
    laptop.click("#logout-btn")
    expect(laptop.locator("#login-view")).to_be_visible()
    for _ in range(50):
        if not live_sessions(people.minjun):
            break
        laptop.wait_for_timeout(100)
    assert live_sessions(people.minjun) == []
    ended = in_db_thread(lambda: set(LoginSession.objects.values_list("end_reason", flat=True)))
    assert ended == {"revoked", "logout"}


def test_change_my_password_from_the_settings_page(server, browser, artifacts):
    people = company()
    room = direct_room(people.minjun, people.seoyeon)
    phone = device(browser, server.url, user_agent=PHONE_AGENT)
    logged_in(phone, people.minjun)
    laptop = device(browser, server.url)
    log_in(laptop, people.minjun)
    expect(laptop.locator("#me-name")).to_have_text(people.minjun.name)
    open_settings(laptop)
    expect(laptop.locator("#password-managed")).to_be_hidden()

    # Two different new passwords, then a wrong current one: told, nothing changed.
    laptop.fill("#pw-old", "Test-pass-1234")
    laptop.fill("#pw-new", NEW_PASSWORD)
    laptop.fill("#pw-new2", NEW_PASSWORD + "x")
    laptop.click("#password-save")
    expect(laptop.locator("#password-status")).to_have_text("새 비밀번호가 서로 다릅니다.")
    laptop.fill("#pw-old", "not-my-password")
    laptop.fill("#pw-new2", NEW_PASSWORD)
    laptop.click("#password-save")
    # The server's refusal, in the page's language.
    expect(laptop.locator("#password-status")).to_have_text("현재 비밀번호가 맞지 않습니다.")
    expect(laptop.locator("#password-status")).to_have_class("settings-status is-error")

    laptop.fill("#pw-old", "Test-pass-1234")
    laptop.click("#password-save")

    expect(laptop.locator("#password-status")).to_have_text(
        "비밀번호를 바꿨습니다. 다른 기기는 모두 로그아웃되었습니다."
    )
    expect(laptop.locator("#pw-old")).to_have_value("")
    expect(laptop.locator("#sessions-list .session-item")).to_have_count(1)
    # This device goes on, its socket too, with the fresh tokens it stored.
    expect(laptop.locator("body")).to_have_attribute("data-conn", "online")
    laptop.click("#tab-chats")
    room_item(laptop, room.pk).click()
    laptop.fill("#composer-input", "새 비밀번호로도 보내집니다")
    laptop.press("#composer-input", "Enter")
    expect(laptop.locator(".msg-body", has_text="새 비밀번호로도 보내집니다")).to_be_visible()
    for _ in range(50):
        if "새 비밀번호로도 보내집니다" in stored_bodies(room.pk):
            break
        laptop.wait_for_timeout(100)
    assert "새 비밀번호로도 보내집니다" in stored_bodies(room.pk)
    laptop.reload()
    expect(laptop.locator("#me-name")).to_have_text(people.minjun.name)

    # The phone is signed out at its next action, and only the new password logs it in.
    room_item(phone, room.pk).click()
    expect(phone.locator("#login-view")).to_be_visible()
    log_in(phone, people.minjun)
    expect(phone.locator("#login-error")).to_be_visible()
    log_in(phone, people.minjun, password=NEW_PASSWORD)
    expect(phone.locator("#me-name")).to_have_text(people.minjun.name)
