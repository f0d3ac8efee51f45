"""The main screens on the demo company, as pictures for docs/client.md: the room list, a busy
group chat, the org tree and the settings page.

Run on demand (the other browser tests already save their own screenshots): with
MESSENGER_DOC_SCREENSHOTS=1 this writes test-artifacts/docs-*.png and replaces
docs/screenshots/*.png, shrunk to a palette."""

from __future__ import annotations

import datetime as dt
import io
import os
import uuid

import pytest
from django.core.management import call_command
from django.urls import resolve
from django.utils import timezone
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from messages import services as message_services
from messages.models import Message
from messenger import realtime, views
from orgsync.models import User
from rooms import services as room_services
from rooms.models import Room
from tests.browser.conftest import REPO, in_db_thread
from tests.browser.helpers import open_page, room_item

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("MESSENGER_DOC_SCREENSHOTS") != "1",
        reason="makes the docs' screenshots; set MESSENGER_DOC_SCREENSHOTS=1 to run it",
    ),
]

DOCS = REPO / "docs" / "screenshots"
DEMO_PASSWORD = "demo1234!"

PLATFORM_TALK = [
    # speaker, text, reply to (index into this list) or None
    ("jang.minseo", "오늘 오후 4시 배포 전에 체크리스트 한 번 더 봐 주세요.", None),
    ("han.jiwoo", "스테이징 DB 백업은 방금 끝났습니다.", None),
    ("oh.seojun", "API 응답 시간 대시보드 링크 공유드려요 https://grafana.example.com/d/api", None),
    ("lim.jaewon", "확인했습니다. 마이그레이션은 3분 정도 걸릴 것 같아요.", None),
    ("jang.minseo", "좋아요. 롤백 절차는 누가 맡을까요?", None),
    ("han.jiwoo", "제가 맡겠습니다. 롤백 스크립트도 미리 돌려 봤어요.", 4),
    ("oh.seojun", "배포 공지는 3시 50분에 전사 채널에 올릴게요.", None),
    ("lim.jaewon", "배포 끝나면 결과 여기에 정리해서 올리겠습니다!", None),
]


def seed_demo_day() -> dict[str, int]:
    """The demo company, plus a working day of rooms for 임재원 (lim.jaewon)."""
    call_command("seed_demo", force=True, stdout=io.StringIO())
    users = {u.user_id: u for u in User.objects.all()}
    me = users["lim.jaewon"]

    def say(user_id: str, room_id: int, text: str, reply_to: str | None = None) -> str:
        msg_id = str(uuid.uuid4())
        message_services.message_send(
            actor=users[user_id], room_id=room_id, msg_id=msg_id, body=text, reply_to=reply_to
        )
        return msg_id

    def age(room_id: int, minutes: int) -> None:
        when = timezone.now() - dt.timedelta(minutes=minutes)
        Message.objects.filter(room_id=room_id).update(created_at=when)
        Room.objects.filter(pk=room_id).update(last_message_at=when)

    rooms: dict[str, int] = {}
    lunch, _ = message_services.room_create(
        actor=users["kwon.chaewon"],
        member_ids=["lim.jaewon", "han.jiwoo", "shin.eunwoo", "moon.taeyang"],
        name="점심 메뉴",
    )
    for who, text in [
        ("kwon.chaewon", "오늘 점심 국밥 어때요?"),
        ("shin.eunwoo", "좋아요!"),
        ("moon.taeyang", "저는 11시 40분에 나갈 수 있어요."),
    ]:
        say(who, lunch.pk, text)
    room_services.room_update_for_me(actor=me, room_id=lunch.pk, muted=True)
    age(lunch.pk, 60 * 26)
    rooms["lunch"] = lunch.pk

    release, _ = message_services.room_create(
        actor=users["seo.hayoon"],
        member_ids=["lim.jaewon", "kwon.chaewon", "moon.taeyang", "jang.minseo"],
        name="앱 2.0 출시 TF",
    )
    say("seo.hayoon", release.pk, "출시 일정표 업데이트했습니다. 확인 부탁드려요.")
    say("lim.jaewon", release.pk, "API 변경 사항은 목요일까지 정리하겠습니다.")
    say("moon.taeyang", release.pk, "iOS 심사 제출은 다음 주 화요일 예정입니다.")
    age(release.pk, 95)
    rooms["release"] = release.pk

    ceo, _ = message_services.room_create(actor=users["kim.minjun"], member_ids=["lim.jaewon"])
    say("kim.minjun", ceo.pk, "재원님, 다음 주 경영회의 때 플랫폼 현황 5분만 발표해 줄 수 있어요?")
    say("kim.minjun", ceo.pk, "자료는 간단히 한 장이면 됩니다.")
    age(ceo.pk, 12)
    rooms["ceo"] = ceo.pk

    sales, _ = message_services.room_create(actor=users["ahn.yejin"], member_ids=["lim.jaewon"])
    say("ahn.yejin", sales.pk, "고객사 데모 계정 하나만 만들어 주실 수 있나요?")
    say("lim.jaewon", sales.pk, "네, 오늘 중으로 만들어서 보내드릴게요.")
    age(sales.pk, 60 * 3)
    rooms["sales"] = sales.pk

    # This machine's Chromium has no colour emoji font: keep the pictures free of empty boxes.
    for message in Message.objects.filter(body__contains="🙂"):
        Message.objects.filter(pk=message.pk).update(body=message.body.replace(" 🙂", ""))
        Room.objects.filter(pk=message.room_id, last_seq=message.seq).update(
            last_msg_body=message.body.replace(" 🙂", "")
        )
    platform = Room.objects.get(name="플랫폼팀")
    rooms["platform"] = platform.pk
    ids: list[str] = []
    for who, text, reply in PLATFORM_TALK:
        ids.append(say(who, platform.pk, text, ids[reply] if reply is not None else None))
    # Read by some, not by all: the counts beside the bubbles differ.
    last = Room.objects.get(pk=platform.pk).last_seq
    message_services.room_read(actor=users["jang.minseo"], room_id=platform.pk, seq=last)
    message_services.room_read(actor=users["han.jiwoo"], room_id=platform.pk, seq=last - 2)
    me.nickname = "배포 준비 중"
    me.quiet_from = dt.time(22, 0)
    me.quiet_to = dt.time(7, 0)
    me.hide_body = True
    me.save(update_fields=["nickname", "quiet_from", "quiet_to", "hide_body"])
    rooms["oh_pk"] = users["oh.seojun"].pk
    rooms["me_pk"] = me.pk
    return rooms


def shoot(page: Page, name: str, artifacts) -> None:
    page.mouse.move(5, 5)
    page.wait_for_timeout(250)
    png = page.screenshot()
    (artifacts / f"docs-{name}.png").write_bytes(png)
    DOCS.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(DOCS / f"{name}.png", optimize=True)


def test_screenshots_of_the_main_screens(server, browser, artifacts):
    rooms = in_db_thread(seed_demo_day)
    page, _ = open_page(browser, server.url, notifications=True)
    page.fill("#login-user-id", "lim.jaewon")
    page.fill("#login-password", DEMO_PASSWORD)
    page.click("#login-submit")
    expect(page.locator("body")).to_have_attribute("data-conn", "online")

    # The busy group chat, with someone typing.
    room_item(page, rooms["platform"]).click()
    expect(page.locator(".msg").last).to_contain_text("배포 끝나면")
    if resolve("/api/rooms/1/files").func is not views.api_not_found:
        image = Image.new("RGB", (960, 540), (236, 241, 247))
        chart = ImageDraw.Draw(image)
        for left in range(80, 880, 160):
            chart.polygon([(left, 440), (left + 159, 280), (left + 159, 440)], fill=(53, 99, 233))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        page.set_input_files(
            "#file-input",
            files=[{"name": "응답시간.png", "mimeType": "image/png", "buffer": buffer.getvalue()}],
        )
        expect(page.locator('.msg[data-type="image"] .thumb img')).to_have_count(1)
        page.wait_for_function(
            "() => document.querySelector('.thumb img')?.naturalWidth > 0", timeout=15_000
        )
    realtime.publish_to_users(
        [rooms["me_pk"]], "typing", {"room_id": rooms["platform"], "user_id": "oh.seojun"}
    )
    expect(page.locator("#typing-line")).to_contain_text("오서준")
    shoot(page, "group-chat", artifacts)

    # The room list, with a 1:1 room open.
    room_item(page, rooms["ceo"]).click()
    expect(page.locator("#chat-title")).to_have_text("김민준")
    shoot(page, "room-list", artifacts)

    # The org tree, opened down to my team and one more.
    page.click("#tab-people")
    page.locator('#org-tree .org-toggle[data-org-cd="APP"]').click()
    expect(page.locator('#org-tree .person[data-user-id="seo.hayoon"]')).to_be_visible()
    shoot(page, "org-tree", artifacts)

    # Settings.
    page.click("#tab-settings")
    expect(page.locator("#set-quiet-on")).to_be_checked()
    shoot(page, "settings", artifacts)
