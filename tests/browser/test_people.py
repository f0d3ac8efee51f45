"""People and rooms in the browser: the org tree, search, 1:1 chats, a group, and what one does
with a room (invite, rename for me, mute, leave)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from messages.models import Message
from rooms.models import RoomMember
from tests.browser.conftest import in_db_thread
from tests.browser.helpers import bubble, company, logged_in, open_page, room_item, send

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARKUP_NAME = "<b>기획</b><img src=x onerror=alert(1)>"


def test_people_org_tree_search_and_direct_chats(server, browser, artifacts):
    people = company()
    page, dialogs = open_page(browser, server.url)
    logged_in(page, people.minjun)

    page.click("#tab-people")
    expect(page.locator("#tab-people")).to_have_attribute("aria-selected", "true")
    tree = page.locator("#org-tree")
    # The tree follows the org chart, open down to my own team and closed elsewhere.
    expect(tree.locator(".org-toggle").first).to_contain_text("테스트상사")
    for org_cd in ("ROOT", "DEV", "PLT"):
        expect(tree.locator(f'.org-toggle[data-org-cd="{org_cd}"]')).to_have_attribute(
            "aria-expanded", "true"
        )
    expect(tree.locator('.org-toggle[data-org-cd="SAL"]')).to_have_attribute(
        "aria-expanded", "false"
    )
    expect(tree.locator('.org-toggle[data-org-cd="DEV"] .org-count')).to_have_text("3")
    me = tree.locator('.person[data-user-id="minjun.kim"]')
    expect(me).to_contain_text("김민준 (나)")
    expect(tree.locator('.person[data-user-id="yuna.choi"]')).to_have_count(0)
    page.screenshot(path=artifacts / "people-tree.png")

    # Collapse and expand, with the keyboard as well as the mouse.
    tree.locator('.org-toggle[data-org-cd="PLT"]').click()
    expect(tree.locator('.person[data-user-id="seoyeon.lee"]')).to_have_count(0)
    tree.locator('.org-toggle[data-org-cd="PLT"]').press("Enter")
    expect(tree.locator('.person[data-user-id="seoyeon.lee"]')).to_be_visible()
    tree.locator('.org-toggle[data-org-cd="SAL"]').click()
    yuna = tree.locator('.person[data-user-id="yuna.choi"]')
    expect(yuna).to_contain_text("최유나")

    # A person's card, then a 1:1 chat from it.
    yuna.click()
    card = page.locator("#person-dialog")
    expect(card).to_be_visible()
    expect(card.locator("#person-name")).to_have_text("최유나")
    expect(card.locator("#person-org")).to_have_text("영업팀")
    expect(card.locator("#person-job")).to_have_text("영업 대표")
    page.click("#person-chat-btn")
    expect(card).to_be_hidden()
    expect(page.locator("#chat-title")).to_have_text("최유나")
    expect(page.locator("#tab-chats")).to_have_attribute("aria-selected", "true")
    send(page, "유나님, 견적서 확인 부탁드려요.")
    expect(bubble(page, "견적서")).to_have_attribute("data-state", "sent")

    # Search finds people by name; a result opens the same card.
    page.click("#tab-people")
    page.fill("#people-search", "지호")
    results = page.locator("#people-results")
    expect(results.locator(".person")).to_have_count(1)
    expect(tree).to_be_hidden()
    results.locator('.person[data-user-id="jiho.park"]').click()
    page.click("#person-chat-btn")
    expect(page.locator("#chat-title")).to_have_text("박지호")
    page.click("#tab-people")
    page.fill("#people-search", "")
    page.locator("#people-search").press("Escape")
    expect(tree).to_be_visible()

    # Both 1:1 rooms are in the list, newest first.
    page.click("#tab-chats")
    expect(page.locator("#room-list .room")).to_have_count(2)
    expect(page.locator("#room-list .room-name").first).to_have_text("박지호")
    assert dialogs == []


def test_people_group_invite_rename_mute_leave(server, browser, artifacts):
    people = company()
    page, dialogs = open_page(browser, server.url)
    logged_in(page, people.minjun)

    # A group by picking people; its name is markup, which shows as text.
    page.click("#tab-people")
    page.click("#new-group-btn")
    picker = page.locator("#picker-dialog")
    expect(picker).to_be_visible()
    expect(picker.locator('input[data-user-id="minjun.kim"]')).to_have_count(0)
    picker.locator('input[data-user-id="seoyeon.lee"]').check()
    expect(page.locator("#picker-name-field")).to_be_hidden()
    picker.locator('input[data-user-id="jiho.park"]').check()
    expect(page.locator("#picker-selected .chip")).to_have_count(2)
    page.fill("#picker-name", MARKUP_NAME)
    expect(page.locator("#picker-submit")).to_contain_text("(2)")
    page.click("#picker-submit")
    expect(picker).to_be_hidden()
    expect(page.locator("#chat-title")).to_have_text(MARKUP_NAME)
    expect(page.locator("#chat-subtitle")).to_have_text("멤버 3명")
    invite_line = page.locator('#message-list .sys[data-type="invite"]')
    expect(invite_line).to_contain_text("이서연")
    room_id = int(page.locator("#chat").get_attribute("data-room-id"))
    expect(room_item(page, room_id).locator(".room-name")).to_have_text(MARKUP_NAME)
    assert page.locator("#room-list img, #chat img").count() == 0

    # Invite: the people already in the room are not offered again.
    page.click("#room-invite-btn")
    expect(picker).to_be_visible()
    expect(picker.locator('input[data-user-id="seoyeon.lee"]')).to_have_count(0)
    picker.locator('input[data-user-id="yuna.choi"]').check()
    page.click("#picker-submit")
    expect(page.locator('#message-list .sys[data-type="invite"]')).to_have_count(2)
    expect(page.locator('#message-list .sys[data-type="invite"]').last).to_contain_text("최유나")
    expect(page.locator("#chat-subtitle")).to_have_text("멤버 4명")

    # Rename for me only.
    page.click("#room-menu-btn")
    page.click("#room-rename-btn")
    expect(page.locator("#rename-dialog")).to_be_visible()
    page.fill("#rename-input", "우리 프로젝트")
    page.click("#rename-save")
    expect(page.locator("#chat-title")).to_have_text("우리 프로젝트")
    expect(room_item(page, room_id).locator(".room-name")).to_have_text("우리 프로젝트")

    # Mute: a mark in the list and the header.
    page.click("#room-menu-btn")
    expect(page.locator("#room-mute-btn")).to_contain_text("알림 끄기")
    page.click("#room-mute-btn")
    expect(room_item(page, room_id)).to_have_attribute("data-muted", "true")
    expect(room_item(page, room_id).locator(".room-muted")).to_be_visible()
    expect(page.locator("#chat-muted")).to_be_visible()

    def my_membership() -> RoomMember:
        return RoomMember.objects.get(room_id=room_id, user=people.minjun)

    member = in_db_thread(my_membership)
    assert member.nickname == "우리 프로젝트"
    assert member.muted
    page.screenshot(path=artifacts / "people-group.png")

    # Leave, after saying yes; "no" leaves everything as it was.
    page.click("#room-menu-btn")
    page.click("#room-leave-btn")
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_be_visible()
    expect(confirm.locator("#confirm-text")).to_contain_text("우리 프로젝트")
    page.click("#confirm-cancel")
    expect(confirm).to_be_hidden()
    expect(room_item(page, room_id)).to_be_visible()
    page.click("#room-menu-btn")
    page.click("#room-leave-btn")
    page.click("#confirm-ok")
    expect(room_item(page, room_id)).to_have_count(0)
    expect(page.locator("#chat-empty")).to_be_visible()
    leave_lines = in_db_thread(
        lambda: Message.objects.filter(room_id=room_id, type="leave").count()
    )
    assert leave_lines == 1
    assert dialogs == []
