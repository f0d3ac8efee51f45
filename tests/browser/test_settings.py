"""The Settings tab and desktop notifications: what is saved through PATCH /api/me, and which
messages notify, with what text, under those settings and a room's mute. The server decides
(its `notify` push, docs/notifications.md); the page shows it and reports its focus."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from messenger import presence
from orgsync.models import User
from tests.browser.conftest import in_db_thread
from tests.browser.helpers import (
    bubble,
    company,
    direct_room,
    group_room,
    logged_in,
    open_page,
    room_item,
    send_as,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEOUL = ZoneInfo("Asia/Seoul")


def wait_until_looking_at(user: User, room_id: int, focused: bool = True) -> None:
    """Wait until the server has recorded (from open_room / focus) whether the user has the
    room open and focused, so a message sent next meets the state the test set up."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen = in_db_thread(presence.room_focused_pks, user_pks=[user.pk], room_id=room_id)
        if (user.pk in seen) == focused:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server never saw room {room_id} focused={focused}")


def notes(page: Page) -> list[dict]:
    return page.evaluate("window.__notes")


def next_note(page: Page, before: int) -> dict:
    """The one notification that follows the first `before`; fails if none or more came."""
    page.wait_for_function("(n) => window.__notes.length > n", arg=before)
    page.wait_for_timeout(200)
    shown = notes(page)
    assert len(shown) == before + 1, shown
    return shown[-1]


def save_settings(page: Page) -> None:
    page.click("#settings-save")
    expect(page.locator("#settings-status")).to_have_text("저장했습니다.")


def test_settings_saved_and_followed_by_notifications(server, browser, artifacts, eager_tasks):
    people = company()
    direct = direct_room(people.minjun, people.seoyeon)
    group = group_room(people.minjun, [people.seoyeon, people.jiho], name="영업 지원")
    page, _ = open_page(browser, server.url, notifications=True)
    logged_in(page, people.minjun)
    expect(room_item(page, group.pk)).to_be_visible()

    # Quiet hours may cross midnight: the rule itself, in the page's own module.
    quiet = page.evaluate(
        """async () => {
             const { inQuietHours } = await import("/static/messenger/rules.js");
             const night = { quiet_from: "22:00", quiet_to: "07:00" };
             const lunch = { quiet_from: "12:00", quiet_to: "13:00" };
             const at = (h, m) => new Date(2025, 0, 1, h, m);
             return [
               inQuietHours(night, at(23, 30)), inQuietHours(night, at(6, 59)),
               inQuietHours(night, at(7, 0)), inQuietHours(night, at(12, 0)),
               inQuietHours(lunch, at(12, 30)), inQuietHours(lunch, at(21, 0)),
               inQuietHours({ quiet_from: null, quiet_to: null }, at(3, 0)),
             ];
           }"""
    )
    assert quiet == [True, True, False, False, True, False, False]

    # A message in a room I am not looking at notifies, with sender and text.
    send_as(people.seoyeon, direct.pk, "견적서 보냈습니다")
    note = next_note(page, 0)
    assert note == {
        "title": "이서연",
        "body": "견적서 보냈습니다",
        "tag": f"messenger-room-{direct.pk}",
    }
    send_as(people.jiho, group.pk, "그룹 공지입니다")
    assert next_note(page, 1)["title"] == "박지호 · 영업 지원"

    # Settings: a status line and "hide the text", saved to my profile.
    page.click("#tab-settings")
    expect(page.locator("#panel-settings")).to_be_visible()
    page.fill("#set-nickname", "외근 중 (오후 복귀)")
    page.check("#set-hide-body")
    expect(page.locator("#set-quiet-from")).to_be_disabled()
    save_settings(page)
    expect(page.locator("#me-org")).to_have_text("외근 중 (오후 복귀)")
    send_as(people.seoyeon, direct.pk, "비밀 내용")
    assert next_note(page, 2) == {
        "title": "이서연",
        "body": "새 메시지가 도착했습니다.",
        "tag": f"messenger-room-{direct.pk}",
    }

    # Hide the sender too; a muted room stays silent, and so does the room I am looking at.
    page.check("#set-hide-sender")
    save_settings(page)
    page.click("#tab-chats")
    room_item(page, group.pk).click()
    page.click("#room-menu-btn")
    page.click("#room-mute-btn")
    expect(room_item(page, group.pk)).to_have_attribute("data-muted", "true")
    room_item(page, direct.pk).click()
    wait_until_looking_at(people.minjun, direct.pk)
    send_as(people.jiho, group.pk, "조용한 방의 메시지")
    send_as(people.seoyeon, direct.pk, "보고 있는 방의 메시지")
    expect(bubble(page, "보고 있는 방의 메시지")).to_be_visible()
    expect(room_item(page, group.pk).locator(".room-preview")).to_have_text("조용한 방의 메시지")
    page.wait_for_timeout(500)
    assert len(notes(page)) == 3

    # The window in the background (focus reported to the server): the open room alerts too.
    page.evaluate(
        """() => {
             document.hasFocus = () => false;
             window.dispatchEvent(new Event("blur"));
           }"""
    )
    wait_until_looking_at(people.minjun, direct.pk, focused=False)
    send_as(people.seoyeon, direct.pk, "뒤에 있는 창의 메시지")
    assert next_note(page, 3) == {
        "title": "메신저",
        "body": "새 메시지가 도착했습니다.",
        "tag": f"messenger-room-{direct.pk}",
    }
    # In front again: silent.
    page.evaluate(
        """() => {
             delete document.hasFocus;
             window.dispatchEvent(new Event("focus"));
           }"""
    )
    wait_until_looking_at(people.minjun, direct.pk)
    send_as(people.seoyeon, direct.pk, "다시 보고 있는 방")
    expect(bubble(page, "다시 보고 있는 방")).to_be_visible()
    page.wait_for_timeout(500)
    assert len(notes(page)) == 4

    # Clicking a notification opens its room.
    page.evaluate("window.__noteObjects[1].onclick()")
    expect(page.locator("#chat")).to_have_attribute("data-room-id", str(group.pk))

    # Quiet hours around now (crossing midnight or not, whatever the hour is): silent.
    now = dt.datetime.now(SEOUL)
    start = (now - dt.timedelta(hours=1)).strftime("%H:%M")
    end = (now + dt.timedelta(hours=1)).strftime("%H:%M")
    page.click("#tab-settings")
    page.check("#set-quiet-on")
    page.fill("#set-quiet-from", start)
    page.fill("#set-quiet-to", end)
    save_settings(page)
    group_other = group_room(people.seoyeon, [people.minjun, people.yuna], name="야간 작업")
    send_as(people.seoyeon, group_other.pk, "방해 금지 시간의 메시지")
    other_item = room_item(page, group_other.pk)
    expect(other_item.locator(".room-preview")).to_have_text("방해 금지 시간의 메시지")
    # The invite line and the message.
    expect(other_item.locator(".room-unread")).to_have_text("2")
    page.wait_for_timeout(500)
    assert len(notes(page)) == 4

    # Quiet hours off and notifications off: still silent; notifications on again: a note.
    page.uncheck("#set-quiet-on")
    page.check("#set-notify-off")
    save_settings(page)
    send_as(people.seoyeon, group_other.pk, "알림 끔 상태의 메시지")
    expect(other_item.locator(".room-preview")).to_have_text("알림 끔 상태의 메시지")
    expect(other_item.locator(".room-unread")).to_have_text("3")
    page.wait_for_timeout(500)
    assert len(notes(page)) == 4
    page.uncheck("#set-notify-off")
    save_settings(page)
    send_as(people.seoyeon, group_other.pk, "다시 알림")
    assert next_note(page, 4) == {
        "title": "메신저",
        "body": "새 메시지가 도착했습니다.",
        "tag": f"messenger-room-{group_other.pk}",
    }
    page.screenshot(path=artifacts / "settings.png")

    saved = in_db_thread(lambda: User.objects.get(pk=people.minjun.pk))
    assert saved.nickname == "외근 중 (오후 복귀)"
    assert saved.hide_body
    assert saved.hide_sender
    assert not saved.notify_off
    assert saved.quiet_from is None
    assert saved.quiet_to is None

    # Quiet hours need both ends; across midnight is fine, and is what the tab shows next time.
    page.click("#tab-settings")
    page.check("#set-quiet-on")
    page.fill("#set-quiet-from", "")
    page.fill("#set-quiet-to", "")
    page.click("#settings-save")
    expect(page.locator("#settings-status")).to_have_text(
        "방해 금지 시간은 시작과 끝을 모두 정하세요."
    )
    page.fill("#set-quiet-from", "22:30")
    page.fill("#set-quiet-to", "06:45")
    save_settings(page)
    saved = in_db_thread(lambda: User.objects.get(pk=people.minjun.pk))
    assert (saved.quiet_from, saved.quiet_to) == (dt.time(22, 30), dt.time(6, 45))
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-conn", "online")
    page.click("#tab-settings")
    expect(page.locator("#set-quiet-on")).to_be_checked()
    expect(page.locator("#set-quiet-from")).to_have_value("22:30")
    expect(page.locator("#set-quiet-to")).to_have_value("06:45")

    # The time zone (this browser's own first) and mentions in muted rooms: saved and kept.
    zone = page.locator("#set-time-zone")
    expect(zone).to_have_value("Asia/Seoul")
    expect(zone.locator("option").first).to_have_text("Asia/Seoul (이 브라우저)")
    expect(page.locator("#set-notify-mentions")).to_be_checked()
    zone.select_option("America/New_York")
    page.uncheck("#set-notify-mentions")
    save_settings(page)
    saved = in_db_thread(lambda: User.objects.get(pk=people.minjun.pk))
    assert saved.time_zone == "America/New_York"
    assert saved.notify_mentions is False
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-conn", "online")
    page.click("#tab-settings")
    expect(page.locator("#set-time-zone")).to_have_value("America/New_York")
    expect(page.locator("#set-notify-mentions")).not_to_be_checked()
    expect(page.locator("#set-quiet-from")).to_have_value("22:30")
