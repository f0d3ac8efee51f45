"""Security headers: a strict Content-Security-Policy (django-csp) on every page, the client
pages frameable by the ERP origins only, nosniff and a Referrer-Policy everywhere, HSTS only
when the deployment says it serves HTTPS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

REPO = Path(__file__).resolve().parents[2]
ERP = "https://erp.example.com"


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.fixture
def debug(settings):
    settings.DEBUG = True  # the demo portal page is served in debug only


@pytest.mark.parametrize("path", ["/", "/demo/portal"])
def test_headers_client_pages_have_a_strict_policy(db, debug, path):
    response = Client().get(path)

    assert response.status_code == 200
    csp = policy(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]  # the socket to the same host, nothing else
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    # No ERP origins configured: only our own pages may frame them.
    assert csp["frame-ancestors"] == ["'self'"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize("path", ["/", "/demo/portal"])
def test_headers_client_pages_may_be_framed_by_the_erp_origins(db, debug, settings, path):
    settings.MESSENGER_WS_ORIGINS = [ERP, "https://portal.example.com:8443"]

    response = Client().get(path)

    assert policy(response)["frame-ancestors"] == [
        "'self'",
        ERP,
        "https://portal.example.com:8443",
    ]
    # X-Frame-Options cannot name them; browsers follow frame-ancestors.
    assert "X-Frame-Options" not in response


@pytest.mark.parametrize("path", ["/admin/login/", "/api/me", "/api/schema", "/healthz"])
def test_headers_admin_and_the_rest_are_never_framed(db, settings, path):
    settings.MESSENGER_WS_ORIGINS = [ERP]

    response = Client().get(path)

    assert policy(response)["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts and styles, handlers, js: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script":
            if "src" not in names:
                self.found.append("inline <script>")
            self.in_script = "src" not in names
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name == "style":
                self.found.append(f"style= on <{tag}>")
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if name in {"href", "src", "action"} and (value or "").startswith("javascript:"):
                self.found.append(f"javascript: URL on <{tag}>")


@pytest.mark.parametrize("path", ["/", "/demo/portal"])
def test_headers_client_pages_have_no_inline_code(db, debug, path):
    html = Client().get(path).content.decode()
    parser = InlineCode()
    parser.feed(html)
    assert parser.found == []


def test_headers_docs_page_loads_its_script_from_a_url(db):
    response = Client().get("/api/docs")

    assert response.status_code == 200
    parser = InlineCode()
    parser.feed(response.content.decode())
    assert "inline <script>" not in parser.found
    csp = policy(response)
    assert csp["script-src"] == ["'self'"]
    # Swagger UI styles itself inline; this page alone allows that.
    assert "'unsafe-inline'" in csp["style-src"]
    script = Client().get("/api/docs?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/"),
        ("get", "/healthz"),
        ("get", "/admin/login/"),
        ("get", "/api/me"),
        ("get", "/api/no-such-thing"),
        ("post", "/api/auth/token"),
        ("get", "/static/messenger/client.js"),
        ("get", "/static/messenger/embed.js"),
    ],
)
def test_headers_nosniff_and_referrer_policy_on_every_response(db, method, path):
    response = getattr(Client(), method)(path)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    # Static files are not documents (whitenoise answers them before django-csp runs).
    assert ("Content-Security-Policy" in response) is not path.startswith("/static/")


def settings_with(**env: str) -> dict:
    """The settings module as a process with these environment variables would load it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    script = (
        "import json; from messenger import settings as s; print(json.dumps({name: "
        "getattr(s, name, None) for name in ('SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER', "
        "'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_headers_hsts_settings_follow_the_environment():
    plain = settings_with()
    assert plain["SECURE_HSTS_SECONDS"] in (None, 0)
    behind_proxy = settings_with(DJANGO_HTTPS="1", DJANGO_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert behind_proxy["SECURE_HSTS_SECONDS"] == 365 * 86400
    assert behind_proxy["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert behind_proxy["SESSION_COOKIE_SECURE"] is True
    assert behind_proxy["CSRF_COOKIE_SECURE"] is True
    assert settings_with(DJANGO_HTTPS="1", DJANGO_HSTS_SECONDS="600")["SECURE_HSTS_SECONDS"] == 600


def test_headers_hsts_only_on_https_requests_when_https_is_configured(db, settings):
    # Not configured: no HSTS even on a request that arrived over https.
    assert "Strict-Transport-Security" not in Client().get("/healthz", secure=True)

    settings.SECURE_HSTS_SECONDS = 365 * 86400
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    via_proxy = Client().get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert via_proxy["Strict-Transport-Security"] == "max-age=31536000"
    # Plain http (the proxy said so, or nothing): never HSTS.
    assert "Strict-Transport-Security" not in Client().get("/healthz")
    assert "Strict-Transport-Security" not in Client().get(
        "/healthz", HTTP_X_FORWARDED_PROTO="http"
    )
