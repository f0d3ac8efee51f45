"""The pages under their Content-Security-Policy: the client and the portal embed work with
no violation and no console error (a blocked script, style, image or socket would show here)."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.helpers import (
    PASSWORD,
    bubble,
    company,
    direct_room,
    logged_in,
    new_context,
    room_item,
    send,
    send_as,
)
from tests.browser.test_files import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def watched_page(context: BrowserContext, url: str) -> tuple[Page, list[str]]:
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page, errors


def violations(page: Page) -> list[str]:
    return page.evaluate("window.__violations")


def test_csp_client_chats_and_shows_images_without_violations(server, browser):
    people = company()
    room = direct_room(people.minjun, people.seoyeon)
    page, errors = watched_page(new_context(browser), f"{server.url}/")
    assert "script-src 'self'" in page.evaluate(
        "async () => (await fetch('/')).headers.get('content-security-policy')"
    )

    logged_in(page, people.minjun)  # the socket (connect-src) is open
    room_item(page, room.pk).click()
    send(page, "정책 아래에서 보내기")
    expect(bubble(page, "정책 아래에서 보내기")).to_have_attribute("data-state", "sent")
    send_as(people.seoyeon, room.pk, "정책 아래에서 받기")
    expect(bubble(page, "정책 아래에서 받기")).to_be_visible()
    # An image attachment is shown from a blob: URL (img-src).
    page.set_input_files(
        "#file-input", files=[{"name": "사진.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    page.wait_for_function(
        "() => document.querySelector('.msg[data-type=\"image\"] .thumb img')?.naturalWidth > 0",
        timeout=20_000,
    )
    # Styles from client.css apply (style-src 'self').
    assert page.evaluate("getComputedStyle(document.querySelector('.icon-sprite')).display") == (
        "none"
    )

    assert violations(page) == []
    assert errors == []


def test_csp_portal_embed_is_styled_and_connects_without_violations(server, browser):
    people = company()
    page, errors = watched_page(new_context(browser), f"{server.url}/demo/portal")
    embed = page.locator("#messenger-embed")
    expect(embed).to_have_attribute("data-status", "logged_out")

    page.click("#messenger-embed-button")
    page.fill("#messenger-embed-user", people.minjun.user_id)
    page.fill("#messenger-embed-password", PASSWORD)
    page.press("#messenger-embed-password", "Enter")
    expect(embed).to_have_attribute("data-status", "online")
    # The badge's own styles (a constructed sheet in its shadow root) and the page's apply.
    badge_color = page.evaluate(
        "getComputedStyle(document.getElementById('messenger-embed').shadowRoot"
        ".querySelector('.badge')).backgroundColor"
    )
    assert badge_color == "rgb(255, 228, 94)"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == (
        "rgb(243, 244, 246)"
    )

    assert violations(page) == []
    assert errors == []
