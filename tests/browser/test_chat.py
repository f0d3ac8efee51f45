"""The chat pane in a busy group: unread counts that fall as people read, who read it, typing,
the "unread below" divider, the "new messages" bar, replies that jump to the original, cancel
for everyone, delete for me and copy."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from messages import services as message_services
from tests.browser.conftest import in_db_thread
from tests.browser.helpers import (
    bubble,
    company,
    group_room,
    logged_in,
    message_action,
    open_page,
    room_item,
    send,
    send_as,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HISTORY = 70


def busy_group():
    """A group of three with a long history; 김민준 has read all but the last ten talks."""
    people = company()
    room = group_room(people.minjun, [people.seoyeon, people.jiho], name="주간 회의")
    first = send_as(people.jiho, room.pk, "첫 공지: 회의는 3시입니다")
    for n in range(2, HISTORY + 1):
        speaker = people.seoyeon if n % 2 else people.jiho
        send_as(speaker, room.pk, f"진행 상황 공유 {n}번")
    # The invite line is seq 1, the first talk seq 2: read up to the 60th talk.
    in_db_thread(message_services.room_read, actor=people.minjun, room_id=room.pk, seq=61)
    in_db_thread(message_services.room_read, actor=people.seoyeon, room_id=room.pk, seq=HISTORY + 1)
    return people, room, first


def in_view(page: Page, selector: str) -> bool:
    return page.evaluate(
        """(selector) => {
             const node = document.querySelector(selector);
             const box = document.getElementById("message-scroller").getBoundingClientRect();
             const r = node.getBoundingClientRect();
             return r.bottom > box.top && r.top < box.bottom;
           }""",
        selector,
    )


def test_chat_unread_readers_typing_and_new_messages_bar(server, browser, artifacts):
    people, room, _first = busy_group()
    page_a, _ = open_page(browser, server.url)
    page_b, _ = open_page(browser, server.url)
    logged_in(page_a, people.minjun)
    logged_in(page_b, people.seoyeon)

    # Ten unread: the list says so, and opening the room shows where my reading stopped.
    expect(room_item(page_a, room.pk).locator(".room-unread")).to_have_text("10")
    expect(page_a.locator("#chats-unread-badge")).to_have_text("10")
    expect(page_a).to_have_title("(10) 메신저")
    room_item(page_a, room.pk).click()
    divider = page_a.locator("#unread-divider")
    expect(divider).to_be_visible()
    expect(divider).to_have_text("여기까지 읽었습니다")
    following = page_a.locator("#unread-divider + li")
    expect(following).to_contain_text("진행 상황 공유 61번")
    expect(room_item(page_a, room.pk).locator(".room-unread")).to_be_hidden()
    expect(page_a).to_have_title("메신저")

    # A message to the three of us: two have not read it; the count falls as they read.
    send(page_a, "모두 확인 부탁드립니다")
    mine = bubble(page_a, "모두 확인 부탁드립니다")
    expect(mine.locator(".msg-unread")).to_have_text("2")
    room_item(page_b, room.pk).click()
    expect(bubble(page_b, "모두 확인 부탁드립니다")).to_be_visible()
    expect(mine.locator(".msg-unread")).to_have_text("1")

    # Who read it and who has not.
    mine.locator(".msg-unread").click()
    readers = page_a.locator("#readers-dialog")
    expect(readers).to_be_visible()
    expect(readers.locator('#readers-read [data-user-id="seoyeon.lee"]')).to_be_visible()
    expect(readers.locator('#readers-unread [data-user-id="jiho.park"]')).to_be_visible()
    expect(readers.locator("#readers-unread-title")).to_have_text("안 읽음 1")
    page_a.screenshot(path=artifacts / "chat-readers.png")
    page_a.click("#readers-close")

    in_db_thread(message_services.room_read, actor=people.jiho, room_id=room.pk, seq=HISTORY + 2)
    expect(mine.locator(".msg-unread")).to_be_hidden()

    # "Typing..." while someone writes.
    page_b.locator("#composer-input").press_sequentially("입력 중인 답")
    expect(page_a.locator("#typing-line")).to_have_text("이서연님이 입력 중…")
    page_b.locator("#composer-input").press("Enter")
    expect(bubble(page_a, "입력 중인 답")).to_be_visible()
    expect(page_a.locator("#typing-line")).to_have_text("")

    # Scrolled up, a new message shows a bar instead of pulling the view down.
    page_a.locator("#message-scroller").evaluate("(node) => { node.scrollTop = 0; }")
    page_a.wait_for_timeout(300)
    send_as(people.jiho, room.pk, "스크롤 중에 온 새 메시지")
    bar = page_a.locator("#new-msg-bar")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("새 메시지 1개")
    expect(bar).to_contain_text("스크롤 중에 온 새 메시지")
    page_a.screenshot(path=artifacts / "chat-new-bar.png")
    bar.click()
    expect(bar).to_be_hidden()
    last = bubble(page_a, "스크롤 중에 온 새 메시지")
    msg_id = last.get_attribute("data-msg-id")
    assert in_view(page_a, f'[data-msg-id="{msg_id}"]')


def test_chat_reply_jump_cancel_delete_and_copy(server, browser, artifacts):
    people, room, first = busy_group()
    send_as(people.jiho, room.pk, "3시 회의 자료는 어디 있나요?", reply_to=first)
    page_a, dialogs = open_page(browser, server.url)
    page_b, _ = open_page(browser, server.url)
    page_a.context.grant_permissions(["clipboard-read", "clipboard-write"])
    logged_in(page_a, people.minjun)
    logged_in(page_b, people.seoyeon)
    room_item(page_a, room.pk).click()
    room_item(page_b, room.pk).click()

    # A reply quotes its original; a click on the quote brings the original (from far up the
    # history, not loaded yet) into view.
    question = bubble(page_a, "3시 회의 자료는")
    quote = question.locator(".reply-quote")
    expect(quote).to_contain_text("박지호에게 답장")
    expect(quote).to_contain_text("첫 공지: 회의는 3시입니다")
    assert bubble(page_a, "첫 공지").count() == 0
    quote.click()
    original = bubble(page_a, "첫 공지")
    expect(original).to_have_attribute("data-jumped", "true")
    assert in_view(page_a, f'[data-msg-id="{first}"]')

    # Replying from a message's menu: the composer shows what I answer, and both sides see it.
    message_action(page_a, "진행 상황 공유 69번", "reply")
    expect(page_a.locator("#reply-bar")).to_be_visible()
    expect(page_a.locator("#reply-bar-body")).to_have_text("진행 상황 공유 69번")
    send(page_a, "69번 건은 제가 맡겠습니다")
    expect(page_a.locator("#reply-bar")).to_be_hidden()
    answer_b = bubble(page_b, "69번 건은 제가 맡겠습니다")
    expect(answer_b.locator(".reply-quote")).to_contain_text("진행 상황 공유 69번")

    # Copy the text of a message.
    message_action(page_a, "진행 상황 공유 70번", "copy")
    expect(page_a.locator("#toast")).to_have_text("복사했습니다.")
    assert page_a.evaluate("navigator.clipboard.readText()") == "진행 상황 공유 70번"

    # Cancel for everyone is offered for my own messages only.
    target = bubble(page_a, "진행 상황 공유 70번")
    target.hover()
    target.locator(".msg-more").click()
    expect(page_a.locator('#msg-menu [data-action="cancel"]')).to_have_count(0)
    page_a.keyboard.press("Escape")
    send(page_a, "잘못 보낸 메시지")
    expect(bubble(page_a, "잘못 보낸 메시지")).to_have_attribute("data-state", "sent")
    message_action(page_a, "잘못 보낸 메시지", "cancel")
    page_a.click("#confirm-ok")
    for page in (page_a, page_b):
        expect(page.locator('.msg[data-msg-state="cancelled"] .msg-body')).to_have_text(
            "삭제된 메시지입니다."
        )
        expect(bubble(page, "잘못 보낸 메시지")).to_have_count(0)

    # Delete for me: gone here, still there for the others.
    message_action(page_a, "진행 상황 공유 68번", "delete")
    page_a.click("#confirm-ok")
    expect(bubble(page_a, "진행 상황 공유 68번")).to_have_count(0)
    expect(bubble(page_b, "진행 상황 공유 68번")).to_have_count(1)
    page_a.reload()
    expect(page_a.locator("body")).to_have_attribute("data-conn", "online")
    expect(bubble(page_a, "진행 상황 공유 67번")).to_be_visible()
    expect(bubble(page_a, "진행 상황 공유 68번")).to_have_count(0)
    page_a.screenshot(path=artifacts / "chat-reply.png")
    assert dialogs == []
