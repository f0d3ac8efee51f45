"""Server-side request forgery through link previews: the address forms the existing tests do
not spell out. Already proved in tests/filetransfer/test_linkpreview.py: the address table
(test_forbidden_addresses: private, loopback, link-local, CGNAT, multicast, IPv4-mapped, 6to4,
site-local), localhost (test_link_preview_of_localhost_is_refused), public-looking names that
resolve inside (test_link_preview_of_a_public_looking_name_resolving_inside_is_refused), and
redirects to inside addresses, file: and gopher: (test_link_preview_redirect_is_checked_again).

Every test here runs against the local test site with the `connections` guard: a preview that
reached any address would show up in `connections` (and anything but loopback fails at once).
"""

from __future__ import annotations

import ipaddress

import pytest

from filetransfer import linkpreview, services
from filetransfer.models import LinkPreview
from messages.models import Message
from tests.conftest import send


def _attach(alice, group, text: str) -> bool:
    sent = send(alice, group.pk, text)
    return services.link_preview_attach(message_pk=Message.objects.get(msg_id=sent["msg_id"]).pk)


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f000001",  # ... as one hex number
        "017700000001",  # ... as one octal number
        "0177.0.0.1",  # octal first part
        "0x7f.0.0.1",  # hex first part
        "127.1",  # short form
        "0",  # 0.0.0.0, which Linux connects to the local host
        "0.0.0.0",  # noqa: S104 (an address to refuse)
        "LOCALHOST",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:127.0.0.1]",
        "[::127.0.0.1]",  # IPv4-compatible (deprecated) form
        "[::]",
        "[::1]",
        "[fe80::1]",
        "167772161",  # 10.0.0.1
        "012.0.0.1",  # 10.0.0.1, octal
        "2852039166",  # 169.254.169.254, the cloud metadata service
        "[::ffff:a9fe:a9fe]",  # ... IPv4-mapped
        "[64:ff9b::a00:1]",  # 10.0.0.1 through the NAT64 prefix
    ],
)
def test_attack_ssrf_preview_of_inside_addresses_in_any_spelling_is_refused(
    alice, group, site, previews, connections, host
):
    made = _attach(alice, group, f"봐주세요 http://{host}:{site.port}/page")

    assert made is False
    assert site.requests == [] and connections == []
    assert LinkPreview.objects.get().status == LinkPreview.Status.BLOCKED


@pytest.mark.parametrize(
    "target",
    [
        "http://2130706434:{port}/page",  # 127.0.0.2, decimal
        "http://0177.0.0.2:{port}/page",
        "http://0x7f.0.0.2:{port}/page",
        "http://127.2:{port}/page",
        "http://[::ffff:127.0.0.2]:{port}/page",
        "http://[::ffff:7f00:2]:{port}/page",
        "http://2852039166/latest/meta-data/",
        "http://user:pw@127.0.0.1:{port}/page",
        "http://127.0.0.1:22/",
        "https://127.0.0.2:{port}/page",
        "//127.0.0.2:{port}/page",  # scheme-relative
    ],
)
def test_attack_ssrf_redirect_to_inside_addresses_in_any_spelling_is_refused(
    alice, group, site, previews, connections, target
):
    # The test site (127.0.0.1) is allowed on purpose, so the first hop is fetched; what it
    # redirects to is checked from the start, whatever its spelling.
    previews("127.0.0.1/32")
    to = target.format(port=site.port)

    made = _attach(alice, group, site.url(f"/redirect?to={to}"))

    assert made is False
    assert site.requests == [f"/redirect?to={to}"]
    assert connections == [("127.0.0.1", site.port)]
    assert LinkPreview.objects.get().status in (
        LinkPreview.Status.BLOCKED,
        LinkPreview.Status.FAILED,
    )


def test_attack_ssrf_name_is_resolved_once_and_the_checked_address_is_used(
    monkeypatch, alice, group, site, previews, connections
):
    # DNS rebinding: the name points at an allowed address at the check and inside a moment
    # later. The page fetch connects to the address it checked and never asks again; the card's
    # image (another URL on the same name) is looked up and checked on its own, and refused.
    previews("127.0.0.1/32")
    answers = iter([["127.0.0.1"], ["10.0.0.7"], ["10.0.0.7"]])
    asked: list[str] = []

    def resolver(host, port):
        asked.append(host)
        return next(answers)

    monkeypatch.setattr(linkpreview, "resolve", resolver)

    made = _attach(alice, group, site.url("/page", host="rebind.example"))

    assert asked == ["rebind.example", "rebind.example"]
    assert connections == [("127.0.0.1", site.port)]
    assert site.requests == ["/page"]
    assert made is True
    preview = LinkPreview.objects.get()
    assert preview.status == LinkPreview.Status.OK and preview.image_name == ""


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::7f00:1", "64:ff9b::a00:1", "::7f00:1", "::ffff:0:7f00:1", "2001:db8::1", "100::1"],
)
def test_attack_ssrf_more_ipv6_forms_are_forbidden(address):
    rules = linkpreview.Rules(frozenset({80}), (), 1.0, 0)
    assert linkpreview.is_forbidden(ipaddress.ip_address(address), rules) is True
