"""Link previews: a card for the first URL of a talk message, fetched by the server, and never
from the server's own network. Every test talks only to a local HTTP server on 127.0.0.1; a
guard on the one function that opens sockets fails the test before any other address is
reached."""

from __future__ import annotations

import io
import ipaddress
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.urls import reverse
from PIL import Image

from filetransfer import linkpreview, services
from filetransfer.models import LinkPreview
from messages import services as message_services
from messages.models import Message
from messenger.celery import app as celery_app
from tests.conftest import send
from tests.messages.helpers import assert_error

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>무시되는 제목</title>
<meta property="og:title" content="사내 소식: 새 사옥 이전">
<meta property="og:description" content="  다음 달   새 사옥으로 이전합니다.  ">
<meta property="og:site_name" content="Example News">
<meta property="og:image" content="/img.jpg">
</head><body>{filler}</body></html>"""
SEOUL = "/wiki/서울?q=한강&x=%41"  # a non-ASCII path and query, and one escape already made
SLOW_PAGE = b"<html><head><title>slow</title></head></html>"


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


class Site:
    """A small web site on 127.0.0.1 that records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                site.requests.append(self.path)
                path, query = urlsplit(self.path).path, parse_qs(urlsplit(self.path).query)
                if path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", query["to"][0])
                    self.end_headers()
                    return
                if path in ("/trickle-head", "/trickle-body"):
                    self.trickle(path)
                    return
                if self.path == quote(SEOUL, safe="/?=&%"):
                    path = "/page"
                body, kind = {
                    "/page": (PAGE.format(filler="x" * 2000).encode(), "text/html; charset=utf-8"),
                    "/big-image-page": (
                        PAGE.replace("/img.jpg", "/big.jpg").format(filler="").encode(),
                        "text/html",
                    ),
                    "/img.jpg": (_jpeg(1200, 630), "image/jpeg"),
                    "/big.jpg": (_jpeg(1200, 630) + b"\x00" * 200_000, "image/jpeg"),
                    "/photo.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png"),
                }.get(path, (b"not found", "text/plain"))
                self.send_response(200 if path != "/missing" else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def trickle(self, path: str) -> None:
                """One byte every 0.3 s: of a header, or of the body after whole headers."""
                head = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n"
                head += b"Content-Length: %d\r\n" % len(SLOW_PAGE)
                if path == "/trickle-head":
                    slow, head = head + b"X-Slow: " + b"x" * 20 + b"\r\n\r\n" + SLOW_PAGE, b""
                else:
                    slow, head = SLOW_PAGE, head + b"\r\n"
                try:
                    self.wfile.write(head)
                    for byte in slow:
                        self.wfile.write(bytes([byte]))
                        time.sleep(0.3)
                except OSError:
                    pass  # the client gave up, as it should

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    web = Site()
    yield web
    web.close()


@pytest.fixture
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Every address a preview connects to; anything but loopback fails the test at once."""
    opened: list[tuple[str, int]] = []
    real = linkpreview.open_connection

    def guarded(address, timeout):
        opened.append(address)
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise AssertionError(f"a preview tried to connect to {address}")
        return real(address, timeout)

    monkeypatch.setattr(linkpreview, "open_connection", guarded)
    return opened


@pytest.fixture
def previews(settings, site):
    """Previews on, the test site's port allowed; allow(...) lets loopback through on purpose
    (as a site may allow its intranet)."""

    def configure(*allow: str, **more) -> None:
        settings.MESSENGER_FILES = {
            **settings.MESSENGER_FILES,
            "LINK_PREVIEWS": True,
            "LINK_PREVIEW_PORTS": [80, 443, site.port],
            "LINK_PREVIEW_ALLOW_NETS": list(allow),
            **more,
        }

    configure()
    return configure


@pytest.fixture
def eager():
    """Run queued Celery tasks in-process, as the embedded default does."""
    before = celery_app.conf.get("task_always_eager")
    celery_app.conf.update(task_always_eager=True)
    yield
    celery_app.conf.update(task_always_eager=before)


def _link(message_id: str) -> dict | None:
    return Message.objects.get(msg_id=message_id).meta.get("link")


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("see https://example.com/a?b=1.", "https://example.com/a?b=1"),
        (
            "(https://en.wikipedia.org/wiki/Seoul_(city)) 참고",
            "https://en.wikipedia.org/wiki/Seoul_(city)",
        ),
        ("첫째 http://a.example/x, 둘째 http://b.example/y", "http://a.example/x"),
        ('<a href="https://example.com/q">', "https://example.com/q"),
        ("no link here", None),
        ("ftp://example.com/file", None),
        ("https://", None),
        ("look http://[oops", None),
        ("http://ex\u2100ample.com/", None),  # NFKC turns the host into "exa/cample.com"
    ],
)
def test_first_url(text, url):
    assert linkpreview.first_url(text) == url


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.0.10", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),  # noqa: S104 (an address to refuse, not one to bind)
        ("224.0.0.1", True),
        ("255.255.255.255", True),
        ("::1", True),
        ("::", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.1.2.3", True),
        ("2002:a00:1::", True),  # 6to4 of 10.0.0.1
        ("fec0::1", True),  # site-local (deprecated, still routed inside some networks)
        ("feff:ffff::1", True),
        ("93.184.216.34", False),
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_forbidden_addresses(address, forbidden):
    rules = linkpreview.Rules(frozenset({80}), (), 1.0, 0)
    assert linkpreview.is_forbidden(ipaddress.ip_address(address), rules) is forbidden


def test_link_preview_of_localhost_is_refused(alice, group, site, previews, connections, pushes):
    sent = send(alice, group.pk, f"이거 보세요 {site.url('/page', host='localhost')}")

    with pushes.committed():
        made = services.link_preview_attach(
            message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk
        )

    assert made is False
    assert site.requests == [] and connections == []
    assert _link(sent["msg_id"]) is None
    assert pushes.of("message_updated") == []
    assert LinkPreview.objects.get().status == LinkPreview.Status.BLOCKED


@pytest.mark.parametrize(
    "answers",
    [["127.0.0.1"], ["93.184.216.34", "127.0.0.1"], ["::1"], ["10.20.30.40"]],
    ids=["loopback", "one-of-two-loopback", "ipv6-loopback", "private"],
)
def test_link_preview_of_a_public_looking_name_resolving_inside_is_refused(
    monkeypatch, alice, group, site, previews, connections, answers
):
    def resolver(host, port):
        assert host == "news.example.com"
        return answers

    monkeypatch.setattr(linkpreview, "resolve", resolver)
    sent = send(alice, group.pk, site.url("/page", host="news.example.com"))

    made = services.link_preview_attach(message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk)

    assert made is False
    assert site.requests == [] and connections == []
    assert LinkPreview.objects.get().status == LinkPreview.Status.BLOCKED


def test_link_preview_card_is_fetched_cached_and_pushed(
    api, alice, bob, carol, group, site, previews, connections, eager, pushes
):
    previews("127.0.0.1/32")
    url = site.url("/page")

    with pushes.committed():
        response = api(alice).post(
            reverse("room-messages", kwargs={"room_id": group.pk}),
            {"msg_id": "6a1f7c52-0e1e-4c4c-9d55-9a0b7c3d2e10", "body": f"공지 {url} 확인"},
            format="json",
        )

    assert response.status_code == 201
    link = _link(response.json()["msg_id"])
    assert link["url"] == url
    assert link["title"] == "사내 소식: 새 사옥 이전"
    assert link["description"] == "다음 달 새 사옥으로 이전합니다."
    assert link["site_name"] == "Example News"
    assert link["image"].startswith("/api/link-previews/")
    [(users, data)] = pushes.of("message_updated")
    assert set(users) == {alice.pk, bob.pk, carol.pk}
    assert data["msg_id"] == response.json()["msg_id"] and data["meta"]["link"] == link
    assert site.requests == ["/page", "/img.jpg"]
    assert {address for address in connections} == {("127.0.0.1", site.port)}

    image = api(bob).get(link["image"])
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert image["X-Content-Type-Options"] == "nosniff"
    thumb = Image.open(io.BytesIO(b"".join(image.streaming_content)))
    assert thumb.size == (400, 210)
    assert_error(api(None).get(link["image"]), 401)

    # The same URL again is served from the cache: the site sees no new request.
    with pushes.committed():
        second = send(bob, group.pk, f"{url} 다시")
    assert _link(second["msg_id"])["title"] == link["title"]
    assert site.requests == ["/page", "/img.jpg"]


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/page",
        "http://127.0.0.2:{port}/page",
        "http://internal.example:{port}/page",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/",
    ],
)
def test_link_preview_redirect_is_checked_again(
    monkeypatch, alice, group, site, previews, connections, target
):
    previews("127.0.0.1/32")
    real_resolve = linkpreview.resolve

    def resolver(host, port):
        return ["10.0.0.7"] if host == "internal.example" else real_resolve(host, port)

    monkeypatch.setattr(linkpreview, "resolve", resolver)
    to = target.format(port=site.port)
    sent = send(alice, group.pk, site.url(f"/redirect?to={to}"))

    made = services.link_preview_attach(message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk)

    assert made is False
    assert site.requests == [f"/redirect?to={to}"]
    assert connections == [("127.0.0.1", site.port)]
    assert LinkPreview.objects.get().status == LinkPreview.Status.BLOCKED


def test_link_previews_switched_off_fetch_nothing(
    settings, alice, group, site, previews, connections, eager, pushes
):
    previews("127.0.0.1/32", LINK_PREVIEWS=False)

    with pushes.committed():
        sent = send(alice, group.pk, site.url("/page"))

    assert site.requests == [] and connections == []
    assert _link(sent["msg_id"]) is None
    assert LinkPreview.objects.count() == 0


def test_link_preview_image_over_the_size_cap_is_left_out(alice, group, site, previews):
    previews("127.0.0.1/32", LINK_PREVIEW_IMAGE_MAX_BYTES=100_000)
    sent = send(alice, group.pk, site.url("/big-image-page"))

    made = services.link_preview_attach(message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk)

    assert made is True
    link = _link(sent["msg_id"])
    assert link["title"] == "사내 소식: 새 사옥 이전" and link["image"] is None


def test_link_preview_page_is_read_only_up_to_the_cap(alice, group, site, previews):
    cut = PAGE.encode().index(b"og:description")
    previews("127.0.0.1/32", LINK_PREVIEW_MAX_BYTES=cut)
    sent = send(alice, group.pk, site.url("/page"))

    services.link_preview_attach(message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk)

    # The cut falls inside the head, before the description: the title alone makes the card.
    link = _link(sent["msg_id"])
    assert link["title"] == "사내 소식: 새 사옥 이전"
    assert link["description"] == ""


def test_link_to_something_that_is_not_a_page_gets_no_card(alice, group, site, previews):
    previews("127.0.0.1/32")
    sent = send(alice, group.pk, site.url("/photo.png"))

    made = services.link_preview_attach(message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk)

    assert made is False and _link(sent["msg_id"]) is None
    assert LinkPreview.objects.get().status == LinkPreview.Status.FAILED


def test_message_with_a_url_that_does_not_parse_is_stored(
    api, alice, group, site, previews, connections, eager, pushes
):
    with pushes.committed():
        response = api(alice).post(
            reverse("room-messages", kwargs={"room_id": group.pk}),
            {"msg_id": "0b6d2f1e-51a4-4a36-9d0e-3c2b8e7f4a11", "body": "look http://[oops"},
            format="json",
        )

    assert response.status_code == 201
    assert Message.objects.get(msg_id=response.json()["msg_id"]).body == "look http://[oops"
    assert site.requests == [] and connections == []


def test_link_preview_redirect_to_a_url_that_does_not_parse_fails(alice, group, site, previews):
    previews("127.0.0.1/32")
    sent = send(alice, group.pk, site.url("/redirect?to=http://[oops"))

    made = services.link_preview_attach(message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk)

    assert made is False
    assert LinkPreview.objects.get().status == LinkPreview.Status.FAILED


def test_page_image_url_that_does_not_parse_leaves_the_card_without_an_image():
    page = PAGE.replace("/img.jpg", "http://[oops/img.jpg").format(filler="").encode()
    fetched = linkpreview.Fetched("http://news.example/a", "text/html", "utf-8", page)

    found = linkpreview.parse_page(fetched)

    assert found["title"] == "사내 소식: 새 사옥 이전" and found["image_url"] == ""


@pytest.mark.parametrize("path", ["/trickle-head", "/trickle-body"])
def test_link_preview_deadline_holds_against_a_trickling_server(
    alice, group, site, previews, connections, path
):
    """A socket timeout bounds each read, not the fetch: a server sending a byte now and then
    must still be cut off at the one deadline."""
    previews("127.0.0.1/32", LINK_PREVIEW_TIMEOUT_SECONDS=1)
    sent = send(alice, group.pk, site.url(path))

    started = time.monotonic()
    made = services.link_preview_attach(message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk)
    elapsed = time.monotonic() - started

    assert elapsed < 3
    assert made is False and _link(sent["msg_id"]) is None
    assert LinkPreview.objects.get().status == LinkPreview.Status.FAILED
    with pytest.raises(linkpreview.PreviewFailed, match="timed out"):
        linkpreview.fetch(
            site.url(path),
            rules=linkpreview.Rules(
                frozenset({site.port}), (ipaddress.ip_network("127.0.0.1/32"),), 1.0, 0
            ),
            accept="text/html",
            max_bytes=65536,
        )


def test_link_preview_of_a_non_ascii_url_is_sent_percent_encoded(
    alice, group, site, previews, connections
):
    previews("127.0.0.1/32")
    url = site.url(SEOUL)
    sent = send(alice, group.pk, f"서울 {url}")

    made = services.link_preview_attach(message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk)

    assert made is True
    assert site.requests[0] == "/wiki/%EC%84%9C%EC%9A%B8?q=%ED%95%9C%EA%B0%95&x=%41"
    link = _link(sent["msg_id"])
    assert link["url"] == url and link["title"] == "사내 소식: 새 사옥 이전"


def test_link_card_is_pushed_only_to_members_who_can_see_the_message(
    alice, bob, carol, dave, group, site, previews, pushes
):
    previews("127.0.0.1/32")
    sent = send(alice, group.pk, site.url("/page"))
    # dave joins after the message was sent, before its preview is ready: he cannot see it.
    message_services.room_invite(actor=alice, room_id=group.pk, user_ids=[dave.user_id])

    with pushes.committed():
        made = services.link_preview_attach(
            message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk
        )

    assert made is True
    [(users, data)] = pushes.of("message_updated")
    assert set(users) == {alice.pk, bob.pk, carol.pk}
    assert data["msg_id"] == sent["msg_id"]
