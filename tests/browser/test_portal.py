"""The ERP portal embed (static/messenger/embed.js on the demo portal page): one socket for all
the portal's tabs, handed over when its tab closes, and out of the way of the full messenger."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.helpers import (
    PASSWORD,
    company,
    direct_room,
    logged_in,
    new_context,
    send_as,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TAKEOVER_TIMEOUT = 6_000


def portal_tab(context: BrowserContext, base_url: str, sockets: list[str]) -> Page:
    page = context.new_page()
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{base_url}/demo/portal")
    return page


def embed(page: Page):
    return page.locator("#messenger-embed")


def test_portal_tabs_share_one_socket_and_hand_it_over(server, browser, artifacts):
    people = company()
    room = direct_room(people.minjun, people.seoyeon)
    context = new_context(browser, notifications=True)
    first_sockets: list[str] = []
    second_sockets: list[str] = []
    third_sockets: list[str] = []

    first = portal_tab(context, server.url, first_sockets)
    expect(embed(first)).to_have_attribute("data-status", "logged_out")
    expect(embed(first)).to_have_attribute("data-role", "leader")

    # The messenger's own login, from the badge; it is kept for this portal's tabs.
    first.click("#messenger-embed-button")
    first.fill("#messenger-embed-user", people.minjun.user_id)
    first.fill("#messenger-embed-password", PASSWORD)
    first.press("#messenger-embed-password", "Enter")
    expect(embed(first)).to_have_attribute("data-status", "online")

    second = portal_tab(context, server.url, second_sockets)
    expect(embed(second)).to_have_attribute("data-role", "follower")
    expect(embed(second)).to_have_attribute("data-status", "online")

    # A message: every tab shows the count; only the leader notifies; one socket in all.
    send_as(people.seoyeon, room.pk, "포털에서 받는 메시지")
    for page in (first, second):
        expect(page.locator("#messenger-embed-count")).to_have_text("1")
        expect(page).to_have_title("(1) 한빛상사 ERP 포털")
    first.wait_for_function("window.__notes.length === 1")
    assert first.evaluate("window.__notes[0]") == {
        "title": "이서연",
        "body": "포털에서 받는 메시지",
        "tag": f"messenger-embed:{server.url}:room-{room.pk}",
    }
    assert second.evaluate("window.__notes.length") == 0
    second.click("#messenger-embed-button")
    expect(second.locator("#messenger-embed-rooms li")).to_contain_text("이서연")
    second.screenshot(path=artifacts / "portal-follower.png")
    second.keyboard.press("Escape")
    assert len(first_sockets) == 1
    assert second_sockets == []

    # The leader's tab closes: the other takes the socket over within seconds.
    first.close()
    expect(embed(second)).to_have_attribute("data-role", "leader", timeout=TAKEOVER_TIMEOUT)
    expect(embed(second)).to_have_attribute("data-status", "online", timeout=TAKEOVER_TIMEOUT)
    assert len(second_sockets) == 1
    send_as(people.seoyeon, room.pk, "넘겨받은 뒤의 메시지")
    expect(second.locator("#messenger-embed-count")).to_have_text("2")
    second.wait_for_function("window.__notes.length === 1")

    # A tab opened later follows without a socket of its own.
    third = portal_tab(context, server.url, third_sockets)
    expect(embed(third)).to_have_attribute("data-role", "follower")
    expect(third.locator("#messenger-embed-count")).to_have_text("2")
    assert third_sockets == []
    assert len(second_sockets) == 1


def test_portal_stands_by_while_the_messenger_is_open(server, browser, artifacts):
    people = company()
    room = direct_room(people.minjun, people.seoyeon)
    context = new_context(browser, notifications=True)
    sockets: list[str] = []
    portal = portal_tab(context, server.url, sockets)
    portal.click("#messenger-embed-button")
    portal.fill("#messenger-embed-user", people.minjun.user_id)
    portal.fill("#messenger-embed-password", PASSWORD)
    portal.press("#messenger-embed-password", "Enter")
    expect(embed(portal)).to_have_attribute("data-status", "online")

    # The full messenger opens: the server keeps one web connection, so the portal stands by
    # (and keeps counting over REST) instead of taking the socket back.
    client = context.new_page()
    client.goto(f"{server.url}/")
    logged_in(client, people.minjun)
    expect(embed(portal)).to_have_attribute("data-status", "standby")
    client.wait_for_timeout(2_000)
    expect(client.locator("body")).to_have_attribute("data-conn", "online")
    assert len(sockets) == 1

    # The messenger window closes: back on the portal, it takes the socket again.
    client.close()
    portal.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(embed(portal)).to_have_attribute("data-status", "online", timeout=TAKEOVER_TIMEOUT)
    assert len(sockets) == 2
    send_as(people.seoyeon, room.pk, "다시 포털에서")
    expect(portal.locator("#messenger-embed-count")).to_have_text("1")
