"""Stored XSS, checked in the browser: markup and script in every text a user or a web page
controls (people's names, status and job, org names, room names and rename-for-me names,
message bodies, file names, link preview cards, notifications, the portal embed) is shown as
text, and runs nothing.

Every payload sets window.__xss when it runs; the test renders each view and asserts it never
got set, that no dialog opened, that no element carries an event-handler attribute or a
javascript: link, and that the payload is shown literally.
"""

from __future__ import annotations

import html
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from messages.models import Message
from orgsync.models import User
from tests.browser.conftest import in_db_thread
from tests.browser.helpers import (
    PASSWORD,
    bubble,
    company,
    direct_room,
    group_room,
    logged_in,
    message_action,
    new_context,
    open_page,
    room_item,
    send_as,
)
from tests.factories import OrgFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = "<script>window.__xss=1</script>"
SVG = '"><svg onload=window.__xss=1>'
JS_URL = "javascript:window.__xss=1"
IFRAME = "<iframe src=javascript:window.__xss=1></iframe>"
ATTR = "' onmouseover='window.__xss=1' x='"
ORG_NAME = "<svg onload=window.__xss=1>팀"
BODIES = [IMG, SCRIPT, SVG, JS_URL, IFRAME, ATTR, f"see https://example.invalid/{SVG}"]

# What a page looks like after an injection ran or planted something that could run later.
PLANTED = """() => [...document.querySelectorAll('*')].flatMap((node) => [
    ...[...node.attributes].filter((a) => /^on/i.test(a.name)).map((a) =>
      `${node.tagName} ${a.name}`),
    ...(node.tagName === 'A' && /^\\s*javascript:/i.test(node.getAttribute('href') || '')
        ? ['A javascript: href'] : []),
    ...(['IFRAME', 'OBJECT', 'EMBED'].includes(node.tagName) ? [node.tagName] : []),
    ...(node.tagName === 'SCRIPT' && !node.src ? ['inline SCRIPT'] : []),
  ])"""


def assert_clean(page: Page, dialogs: list[str], where: str) -> None:
    assert page.evaluate("window.__xss") is None, f"a payload ran in {where}"
    assert dialogs == [], (where, dialogs)
    assert page.evaluate(PLANTED) == [], where
    for frame in page.frames:
        assert frame.evaluate("window.__xss") is None, where


class HostilePage:
    """A web page on 127.0.0.1 whose Open Graph card is made of payloads."""

    def __init__(self) -> None:
        meta = {
            "og:title": SCRIPT,
            "og:description": IMG,
            "og:site_name": SVG,
            "og:image": JS_URL,
        }
        tags = "".join(
            f'<meta property="{key}" content="{html.escape(value, quote=True)}">'
            for key, value in meta.items()
        )
        body = f"<!doctype html><html><head><title>{html.escape(IFRAME)}</title>{tags}</head>"
        page = (body + "<body>hello</body></html>").encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile_page(settings):
    site = HostilePage()
    settings.MESSENGER_FILES = {
        **settings.MESSENGER_FILES,
        "LINK_PREVIEWS": True,
        "LINK_PREVIEW_PORTS": [80, 443, site.port],
        "LINK_PREVIEW_ALLOW_NETS": ["127.0.0.1/32"],
    }
    yield site
    site.close()


def make_attacker(root) -> User:
    def make() -> User:
        org = OrgFactory(org_cd="EVIL", name=ORG_NAME, seq="0900", parent=root)
        return UserFactory(
            user_id="mallory", name=IMG, nickname=SVG, job=SCRIPT, tel_no="010-0000-0000", org=org
        )

    return in_db_thread(make)


def set_link_card(msg_id: str, card: dict) -> None:
    def update() -> None:
        message = Message.objects.get(msg_id=msg_id)
        message.meta = {**(message.meta or {}), "link": card}
        message.save(update_fields=["meta"])

    in_db_thread(update)


def test_xss_payloads_are_shown_as_text_everywhere(
    server, browser, artifacts, eager_tasks, hostile_page
):
    people = company()
    victim = people.minjun
    mallory = make_attacker(people.root)
    group = group_room(mallory, [victim, people.seoyeon], name=f"{SVG} 방")
    direct = direct_room(mallory, victim)
    for body in BODIES:
        send_as(mallory, group.pk, body)
    # A link preview fetched by the server from a hostile page (through the real fetcher).
    send_as(mallory, group.pk, f"미리보기 http://127.0.0.1:{hostile_page.port}/card")
    # Cards the server would never make, as if the database held them: a javascript: link and
    # an image that is not the server's own preview endpoint.
    forged = send_as(mallory, group.pk, "위조된 카드")
    set_link_card(
        forged,
        {"url": JS_URL, "title": "forged", "description": IMG, "image": JS_URL},
    )
    forged_image = send_as(mallory, group.pk, "위조된 이미지 카드")
    set_link_card(
        forged_image,
        {"url": "https://example.invalid/", "title": "forged image", "image": f"x{SVG}"},
    )
    send_as(mallory, direct.pk, "1:1 안녕")

    page, dialogs = open_page(browser, server.url, notifications=True)
    page.add_init_script("window.__xss = undefined;")
    logged_in(page, victim)

    # The room list: a room name, a person's name as a 1:1 room's name, last-message previews.
    expect(room_item(page, group.pk)).to_contain_text(f"{SVG} 방")
    expect(room_item(page, direct.pk)).to_contain_text(IMG)
    assert_clean(page, dialogs, "the room list")

    # The chat pane: bodies, sender names, the link card, the forged cards.
    room_item(page, group.pk).click()
    expect(page.locator("#chat-title")).to_have_text(f"{SVG} 방")
    for body in BODIES:
        expect(page.locator(".msg-body").filter(has_text=body).first).to_be_visible()
    expect(page.locator(".msg-sender").filter(has_text=IMG).first).to_be_visible()
    card = page.locator(".link-card").filter(has_text=SCRIPT)
    expect(card).to_have_count(1)
    expect(card.locator(".link-title")).to_have_text(SCRIPT)
    expect(card.locator(".link-desc")).to_have_text(IMG)
    expect(card.locator(".link-site")).to_have_text(SVG)
    expect(card).to_have_attribute("href", f"http://127.0.0.1:{hostile_page.port}/card")
    assert card.locator("img").count() == 0  # a javascript: image URL is never fetched
    expect(bubble(page, "위조된 카드")).to_be_visible()
    assert bubble(page, "위조된 카드").locator(".link-card").count() == 0
    assert bubble(page, "위조된 이미지 카드").locator(".link-card img").count() == 0
    # A link inside a body is cut at the quote: the rest stays text.
    link = bubble(page, "see https://example.invalid/").locator("a")
    expect(link).to_have_attribute("href", "https://example.invalid/")
    assert_clean(page, dialogs, "the chat pane")

    # A file whose name is markup.
    page.set_input_files(
        "#file-input",
        files=[{"name": f"{IMG}.txt", "mimeType": "text/plain", "buffer": b"just text\n"}],
    )
    expect(page.locator(".file-card .file-name").filter(has_text=IMG)).to_have_text(f"{IMG}.txt")
    for body in BODIES:
        bubble(page, body).first.hover()
    page.locator("#message-list").screenshot(path=artifacts / "xss-chat-pane.png")
    page.screenshot(path=artifacts / "xss-page.png")
    assert_clean(page, dialogs, "the chat pane with a file")

    # The readers popup names people.
    message_action(page, SCRIPT, "readers")
    readers = page.locator("#readers-dialog")
    expect(readers).to_be_visible()
    expect(readers).to_contain_text(people.seoyeon.name)
    assert_clean(page, dialogs, "the readers popup")
    page.click("#readers-close")

    # Rename for me, to markup: the list and the title show it as text.
    room_item(page, direct.pk).click()
    page.click("#room-menu-btn")
    page.click("#room-rename-btn")
    page.fill("#rename-input", ATTR)
    page.click("#rename-save")
    expect(room_item(page, direct.pk)).to_contain_text(ATTR)
    expect(page.locator("#chat-title")).to_have_text(ATTR)
    assert_clean(page, dialogs, "a room renamed for me")

    # A notification from a room I am not looking at: title and text as given, nothing run.
    room_item(page, group.pk).click()
    before = len(page.evaluate("window.__notes"))
    send_as(mallory, direct.pk, SCRIPT)
    page.wait_for_function("(n) => window.__notes.length > n", arg=before)
    note = page.evaluate("window.__notes")[-1]
    assert note["body"] == SCRIPT
    assert IMG in note["title"] or ATTR in note["title"]
    assert_clean(page, dialogs, "a notification")

    # The org tree, a person's card, people search and the new-chat picker.
    page.click("#tab-people")
    tree = page.locator("#org-tree")
    evil = tree.locator('.org-toggle[data-org-cd="EVIL"]')
    expect(evil).to_contain_text(ORG_NAME)
    evil.click()
    person = tree.locator('.person[data-user-id="mallory"]')
    expect(person).to_contain_text(IMG)
    person.click()
    dialog = page.locator("#person-dialog")
    expect(dialog.locator("#person-name")).to_have_text(IMG)
    expect(dialog.locator("#person-nickname")).to_have_text(SVG)
    expect(dialog.locator("#person-job")).to_have_text(SCRIPT)
    expect(dialog.locator("#person-org")).to_contain_text(ORG_NAME)
    assert_clean(page, dialogs, "the org tree and a person's card")
    page.click("#person-close")
    page.fill("#people-search", "window")
    results = page.locator("#people-results")
    expect(results.locator('.person[data-user-id="mallory"]')).to_contain_text(IMG)
    assert_clean(page, dialogs, "people search")
    page.click("#new-chat-btn")
    page.fill("#picker-search", "mallory")
    expect(page.locator("#picker-results")).to_contain_text(IMG)
    assert_clean(page, dialogs, "the new-chat picker")
    page.screenshot(path=artifacts / "xss-people.png")
    page.context.close()

    # The portal embed: room names in its panel, a message in its toast.
    portal_context = new_context(browser, notifications=True)
    portal = portal_context.new_page()
    portal_dialogs: list[str] = []
    portal.on("dialog", lambda d: (portal_dialogs.append(d.message), d.dismiss()))
    portal.goto(f"{server.url}/demo/portal")
    portal.click("#messenger-embed-button")
    portal.fill("#messenger-embed-user", victim.user_id)
    portal.fill("#messenger-embed-password", PASSWORD)
    portal.press("#messenger-embed-password", "Enter")
    embed = portal.locator("#messenger-embed")
    expect(embed).to_have_attribute("data-status", "online")
    # The panel lists rooms with unread messages: the 1:1 room under its rename-for-me name.
    expect(portal.locator("#messenger-embed-rooms")).to_contain_text(ATTR)
    send_as(mallory, group.pk, IFRAME + str(uuid.uuid4())[:4])
    expect(embed.locator(".toast")).to_contain_text("<iframe src=javascript:")
    expect(portal.locator("#messenger-embed-rooms")).to_contain_text(f"{SVG} 방")
    portal.screenshot(path=artifacts / "xss-portal.png")
    assert_clean(portal, portal_dialogs, "the portal embed")
    shadow_planted = portal.evaluate(
        "() => [...document.querySelector('#messenger-embed').shadowRoot.querySelectorAll('*')]"
        ".filter((n) => [...n.attributes].some((a) => /^on/i.test(a.name))"
        " || ['IFRAME', 'SCRIPT', 'IMG'].includes(n.tagName.toUpperCase())).length"
    )
    assert shadow_planted == 0
    portal_context.close()
