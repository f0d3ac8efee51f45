"""Fetching a link preview without letting a message steer the server into its own network.

Defences against server-side request forgery, each needed on its own:
- only http and https, only the configured ports, no user:password@ in the URL;
- every address the host name resolves to must be public (not private, loopback,
  link-local, site-local, multicast, reserved or unspecified, IPv4-mapped forms included),
  unless it lies in a network the site allowed on purpose; one bad address refuses the whole
  name;
- the connection goes to the address that was checked, never to a second lookup of the name
  (no DNS rebinding between check and connect); TLS still verifies the certificate against
  the host name;
- every redirect is a new URL and is checked again from the start, at most N of them;
- one deadline for the whole fetch (a watchdog shuts the socket down when it passes), a byte
  cap on what is read, no compressed bodies.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import string
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from messenger import netguard

USER_AGENT = "MessengerLinkPreview/1.0 (+on-premise messenger)"
URL_MAX_CHARS = 2048
TITLE_MAX = 200
DESCRIPTION_MAX = 300
SITE_NAME_MAX = 100

_URL_RE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}>"
# Characters of a path or query sent as they are: printable ASCII (reserved characters and
# %XX escapes keep their meaning); anything else is percent-encoded as UTF-8, as browsers do.
_URL_SAFE = string.punctuation
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:]+)""", re.IGNORECASE)


class PreviewRefused(Exception):
    """The URL may not be fetched (scheme, port or address); not worth retrying. Messages of
    both exceptions name no part of the URL but addresses, so they may be logged."""


class PreviewFailed(Exception):
    """The fetch did not give a usable page or image (network, status, type, size)."""


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Rules:
    ports: frozenset[int]
    allowed_networks: tuple[Network, ...]
    timeout: float
    max_redirects: int

    @classmethod
    def from_settings(cls, conf: dict[str, Any]) -> Rules:
        return cls(
            ports=frozenset(int(p) for p in conf["LINK_PREVIEW_PORTS"]),
            allowed_networks=tuple(
                ipaddress.ip_network(net, strict=False) for net in conf["LINK_PREVIEW_ALLOW_NETS"]
            ),
            timeout=float(conf["LINK_PREVIEW_TIMEOUT_SECONDS"]),
            max_redirects=int(conf["LINK_PREVIEW_MAX_REDIRECTS"]),
        )


@dataclass(frozen=True)
class Fetched:
    url: str
    content_type: str
    charset: str
    body: bytes


def first_url(text: str) -> str | None:
    """The first http(s) URL in a message, without the punctuation that usually follows one."""
    match = _URL_RE.search(text or "")
    if match is None:
        return None
    url = match.group(0)
    while url and url[-1] in _TRAILING:
        # Keep a closing parenthesis that belongs to the URL (Wikipedia-style links).
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    if len(url) > URL_MAX_CHARS:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:  # "http://[oops": not a URL after all
        return None
    return url if host else None


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (the one lookup a fetch makes per URL)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise PreviewFailed(f"the host name does not resolve ({error})") from None
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


def is_forbidden(address: Address, rules: Rules) -> bool:
    """True for addresses a preview must never reach, unless the site allowed their network."""
    if any(address in network for network in rules.allowed_networks):
        return False
    embedded = netguard.embedded_ipv4(address)
    if embedded is not None and is_forbidden(embedded, rules):
        return True
    return netguard.not_public(address)


def _target(url: str, rules: Rules) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, path with query, checked address) for a URL, or PreviewRefused."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise PreviewRefused(f"scheme {scheme!r} is not fetched")
    if parts.username is not None or parts.password is not None:
        raise PreviewRefused("URLs with a user name are not fetched")
    host = parts.hostname
    if not host:
        raise PreviewRefused("the URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise PreviewRefused("the URL's port is not a number") from None
    if port not in rules.ports:
        raise PreviewRefused(f"port {port} is not fetched")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise PreviewRefused("the host name is not valid") from None
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
    if not addresses:
        raise PreviewFailed("the host name has no address")
    forbidden = [a for a in addresses if is_forbidden(a, rules)]
    if forbidden:
        raise PreviewRefused(f"the host name resolves to a non-public address ({forbidden[0]})")
    path = quote(parts.path or "/", safe=_URL_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_URL_SAFE)
    return scheme, host, port, path, str(addresses[0])


def open_connection(address: tuple[str, int], timeout: float | None) -> socket.socket:
    """Connect to a checked address (the one place a preview opens a socket)."""
    return socket.create_connection(address, timeout=timeout)


class _Watchdog:
    """Shuts a fetch's socket down when the deadline passes, whatever the fetch is blocked in
    (TLS handshake, headers, body): a socket timeout alone bounds each recv, not the whole
    fetch, so a server trickling a byte at a time could hold a fetch for ever."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._sock is not None:
                # The plain socket's shutdown, also for TLS: wakes a blocked recv with EOF.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def watch(self, sock: socket.socket | None) -> None:
        """The socket the fetch now uses (None before closing it, so that a closed socket's
        reused descriptor is never shut down); refused when the deadline has passed."""
        with self._lock:
            self._sock = sock
            if sock is not None and self.fired:
                raise TimeoutError("timed out")

    def stop(self) -> None:
        self._timer.cancel()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(
        self, host: str, port: int, *, address: str, timeout: float, watchdog: _Watchdog
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.watchdog = watchdog

    def connect(self) -> None:
        self.sock = open_connection((self.address, self.port), self.timeout)
        self.watchdog.watch(self.sock)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, *, address: str, timeout: float, watchdog: _Watchdog
    ) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address
        self.watchdog = watchdog

    def connect(self) -> None:
        sock = open_connection((self.address, self.port), self.timeout)
        self.watchdog.watch(sock)
        # Certificate and host name are checked against the name, not the address.
        self.sock = self.tls.wrap_socket(
            sock, server_hostname=self.host, do_handshake_on_connect=False
        )
        self.watchdog.watch(self.sock)
        self.sock.do_handshake()


def fetch(url: str, *, rules: Rules, accept: str, max_bytes: int) -> Fetched:
    """GET a URL under the rules above, following checked redirects; reads at most max_bytes
    (a longer body is cut there: the head of a page is what a card needs)."""
    deadline = time.monotonic() + rules.timeout
    watchdog = _Watchdog(rules.timeout)
    try:
        return _fetch(
            url,
            rules=rules,
            accept=accept,
            max_bytes=max_bytes,
            deadline=deadline,
            watchdog=watchdog,
        )
    finally:
        watchdog.stop()


def _fetch(
    url: str, *, rules: Rules, accept: str, max_bytes: int, deadline: float, watchdog: _Watchdog
) -> Fetched:
    for _hop in range(rules.max_redirects + 1):
        scheme, host, port, path, address = _target(url, rules)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PreviewFailed("timed out")
        connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = connection_class(
            host, port, address=address, timeout=remaining, watchdog=watchdog
        )
        try:
            connection.request(
                "GET",
                path,
                headers={
                    "User-Agent": USER_AGENT,
                    "Accept": accept,
                    "Accept-Encoding": "identity",
                },
            )
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise PreviewFailed(f"redirect {response.status} without a Location")
                try:
                    url = urljoin(url, location.strip())
                except ValueError:
                    raise PreviewFailed("redirect to an invalid URL") from None
                continue
            if response.status != 200:
                raise PreviewFailed(f"status {response.status}")
            encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
            if encoding != "identity":
                raise PreviewFailed(f"compressed body ({encoding}) not read")
            body = _read_capped(response, max_bytes=max_bytes, deadline=deadline)
            if watchdog.fired:  # the body may have been cut short by the shutdown
                raise PreviewFailed("timed out")
            content_type, charset = _content_type(response.getheader("Content-Type") or "")
            return Fetched(url=url, content_type=content_type, charset=charset, body=body)
        except (OSError, http.client.HTTPException, UnicodeError) as error:
            if watchdog.fired:
                raise PreviewFailed("timed out") from None
            raise PreviewFailed(f"{type(error).__name__}: {error}") from None
        finally:
            watchdog.watch(None)
            connection.close()
    raise PreviewFailed(f"more than {rules.max_redirects} redirects")


def _read_capped(response: http.client.HTTPResponse, *, max_bytes: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total < max_bytes:
        if time.monotonic() > deadline:
            raise PreviewFailed("timed out")
        chunk = response.read(min(65536, max_bytes - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _content_type(header: str) -> tuple[str, str]:
    mime, _, params = header.partition(";")
    charset = ""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    return mime.strip().lower(), charset


class _HeadParser(HTMLParser):
    """Collects <title> and the Open Graph / description <meta> tags of a page's head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title_parts: list[str] = []
        self.in_title = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "title":
            self.in_title = True
        elif tag == "meta":
            values = {k.lower(): (v or "") for k, v in attrs}
            key = (values.get("property") or values.get("name") or "").strip().lower()
            if key and "content" in values and key not in self.meta:
                self.meta[key] = values["content"]
        elif tag == "body":
            self.done = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self.in_title and not self.done:
            self.title_parts.append(data)


def _clean(text: str, limit: int) -> str:
    text = " ".join(text.split())
    text = "".join(ch for ch in text if ch.isprintable())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def parse_page(fetched: Fetched) -> dict[str, str]:
    """Title, description, site name and image URL of an HTML page (empty strings if absent)."""
    charset = fetched.charset
    if not charset:
        found = _CHARSET_RE.search(fetched.body[:4096])
        charset = found.group(1).decode("ascii") if found else "utf-8"
    try:
        text = fetched.body.decode(charset, "replace")
    except LookupError:
        text = fetched.body.decode("utf-8", "replace")
    parser = _HeadParser()
    parser.feed(text)
    meta = parser.meta
    image = (meta.get("og:image") or meta.get("twitter:image") or "").strip()
    try:
        image_url = urljoin(fetched.url, image) if image else ""
    except ValueError:  # not a URL: the card goes without an image
        image_url = ""
    return {
        "title": _clean(
            meta.get("og:title") or meta.get("twitter:title") or "".join(parser.title_parts),
            TITLE_MAX,
        ),
        "description": _clean(
            meta.get("og:description")
            or meta.get("twitter:description")
            or meta.get("description")
            or "",
            DESCRIPTION_MAX,
        ),
        "site_name": _clean(meta.get("og:site_name") or "", SITE_NAME_MAX),
        "image_url": image_url,
    }
