"""What the browser tests share: people and rooms made through the services, pages logged in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from playwright.sync_api import Browser, BrowserContext, Page, expect

from messages import services as message_services
from messages.models import Message
from orgsync.models import Org, User
from tests.browser.conftest import in_db_thread
from tests.factories import PASSWORD, OrgFactory, UserFactory

VIEWPORT = {"width": 1200, "height": 760}

# Desktop notifications, recorded instead of shown (headless Chromium has no notification UI).
NOTIFICATION_STUB = """
window.__notes = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options = {}) {
    window.__notes.push({ title, body: options.body, tag: options.tag });
    window.__noteObjects = [...(window.__noteObjects || []), this];
  }
  addEventListener(type, listener) {
    if (type === "click") this.onclick = listener;
  }
  close() {}
};
"""


@dataclass
class Company:
    root: Org
    dev: Org
    platform: Org
    sales: Org
    minjun: User
    seoyeon: User
    jiho: User
    yuna: User


def company() -> Company:
    """A small org chart: a company, a division with a team, and a sales team."""

    def make() -> Company:
        root = OrgFactory(org_cd="ROOT", name="테스트상사", seq="0001", level=0)
        dev = OrgFactory(org_cd="DEV", name="개발본부", seq="0100", level=1, parent=root)
        platform = OrgFactory(org_cd="PLT", name="플랫폼팀", seq="0110", level=2, parent=dev)
        sales = OrgFactory(org_cd="SAL", name="영업팀", seq="0200", level=1, parent=root)
        return Company(
            root=root,
            dev=dev,
            platform=platform,
            sales=sales,
            minjun=UserFactory(
                user_id="minjun.kim", name="김민준", org=platform, job="백엔드 개발"
            ),
            seoyeon=UserFactory(
                user_id="seoyeon.lee", name="이서연", org=platform, job="프론트엔드 개발"
            ),
            jiho=UserFactory(user_id="jiho.park", name="박지호", org=dev, job="본부장"),
            yuna=UserFactory(user_id="yuna.choi", name="최유나", org=sales, job="영업 대표"),
        )

    return in_db_thread(make)


def direct_room(a: User, b: User):
    room, _created = in_db_thread(message_services.room_open_direct, actor=a, peer=b)
    return room


def group_room(creator: User, others: list[User], name: str = ""):
    room, _created = in_db_thread(
        message_services.room_create,
        actor=creator,
        member_ids=[u.user_id for u in others],
        name=name,
    )
    return room


def send_as(user: User, room_id: int, body: str, reply_to: str | None = None) -> str:
    msg_id = str(uuid.uuid4())
    in_db_thread(
        message_services.message_send,
        actor=user,
        room_id=room_id,
        msg_id=msg_id,
        body=body,
        reply_to=reply_to,
    )
    return msg_id


def stored_bodies(room_id: int) -> list[str]:
    return in_db_thread(
        lambda: list(Message.objects.filter(room_id=room_id).values_list("body", flat=True))
    )


def new_context(browser: Browser, *, notifications: bool = False) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT, locale="ko-KR", timezone_id="Asia/Seoul")
    if notifications:
        context.add_init_script(NOTIFICATION_STUB)
    return context


def open_page(
    browser: Browser, base_url: str, *, notifications: bool = False
) -> tuple[Page, list[str]]:
    """A new browser context (another person) on the client, recording any JS dialog."""
    page = new_context(browser, notifications=notifications).new_page()
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


def message_action(page: Page, body: str, action: str) -> None:
    """Open a message's menu (the ⋯ beside it) and pick an action."""
    target = bubble(page, body)
    target.hover()
    target.locator(".msg-more").click()
    page.locator(f'#msg-menu [data-action="{action}"]').click()


__all__ = [
    "PASSWORD",
    "Company",
    "bubble",
    "company",
    "direct_room",
    "group_room",
    "log_in",
    "logged_in",
    "message_action",
    "new_context",
    "open_page",
    "room_item",
    "send",
    "send_as",
    "stored_bodies",
]
