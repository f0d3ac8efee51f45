"""Sign-in with the company account in real Chromium: the messenger (daphne) and a real OpenID
provider (tests/oidc_idp, django-oidc-provider) each in a process of their own. Click the
button, log in at the provider, come back signed in; the refusals shown on the login page."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
from playwright.sync_api import Page, expect

from bench.env import free_port
from orgsync.models import ActionLog
from tests.browser.conftest import DaphneServer, in_db_thread
from tests.browser.helpers import company, new_context
from tests.oidc_idp.fixtures import oidc_env
from tests.oidc_idp.server import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def oidc_server(oidc_provider, transactional_db, artifacts, request, monkeypatch):
    """The messenger with sign-in by the test provider set up through its environment
    variables (docs/operations.md), its callback registered at the provider."""
    for name, value in oidc_env(oidc_provider).items():
        monkeypatch.setenv(name, value)
    log_path = artifacts / f"daphne-{request.node.name}.log"
    log_path.unlink(missing_ok=True)
    daphne = DaphneServer(free_port(), log_path)
    oidc_provider.allow_redirect(f"{daphne.url}/api/auth/oidc/callback")
    daphne.start()
    try:
        yield daphne
    finally:
        daphne.stop()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = new_context(browser)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in_at_provider(page: Page, username: str) -> None:
    expect(page.locator("#idp-username")).to_be_visible()
    page.fill("#idp-username", username)
    page.fill("#idp-password", PASSWORD)
    page.click("#idp-submit")


def fragments_seen(page: Page) -> list[str]:
    """Every URL fragment the page's main frame arrives at (the callback's hand-over)."""
    seen: list[str] = []

    def on_navigated(frame) -> None:
        if frame is page.main_frame:
            seen.append(urlsplit(frame.url).fragment)

    page.on("framenavigated", on_navigated)
    return seen


def test_oidc_browser_sign_in_and_back_signed_in(oidc_server, oidc_provider, page):
    people = company()
    seen = fragments_seen(page)
    page.goto(f"{oidc_server.url}/")

    page.get_by_role("link", name="회사 계정으로 로그인").click()
    sign_in_at_provider(page, "minjun.kim")

    expect(page.locator("#me-name")).to_have_text(people.minjun.name)
    expect(page.locator("body")).to_have_attribute("data-conn", "online")
    assert page.url == f"{oidc_server.url}/"
    # The one-time code went through the address bar once, and no token ever did.
    codes = [f for f in seen if f.startswith("oidc_code=")]
    assert len(codes) == 1
    assert page.evaluate("location.hash") == ""
    stored = page.evaluate("JSON.parse(sessionStorage.getItem('messenger.tokens'))")
    assert set(stored) >= {"access", "refresh"}
    assert not any(stored["access"] in f or stored["refresh"] in f for f in seen)
    entry = in_db_thread(lambda: ActionLog.objects.filter(work="login").get())
    assert entry.detail.startswith("oidc ")

    # The code is spent: the same address opened elsewhere signs nobody in.
    other = new_context(page.context.browser).new_page()
    other.goto(f"{oidc_server.url}/#{codes[0]}")
    expect(other.locator("#login-error")).to_contain_text("이미 사용된 로그인")
    expect(other.locator("#app-view")).to_be_hidden()
    assert other.evaluate("location.hash") == ""
    other.context.close()


def test_oidc_browser_unknown_person_is_told_why(oidc_server, oidc_provider, browser):
    company()
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{oidc_server.url}/")

    page.get_by_role("link", name="Sign in with company account").click()
    sign_in_at_provider(page, "outsider.han")

    expect(page.locator("#login-error")).to_have_text(
        "Your company account has no messenger account you can use (not registered or "
        "deactivated). Ask your administrator."
    )
    expect(page.locator("#app-view")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('messenger.tokens')") is None
    assert page.url == f"{oidc_server.url}/"
    context.close()


def test_oidc_browser_tampered_state_is_refused(oidc_server, oidc_provider, page):
    company()

    def tamper(route) -> None:
        # Playwright lets a handler see only the first request of a redirect chain: the login
        # form's POST at the provider. Do that chain here up to the provider's redirect to the
        # messenger, and send the browser there with the state changed.
        answer = route.fetch(max_redirects=0)
        authorize = urljoin(route.request.url, answer.headers["location"])
        back = page.context.request.get(authorize, max_redirects=0).headers["location"]
        parts = urlsplit(back)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["state"] = "forged" + query["state"]
        tampered = urlunsplit(parts._replace(query=urlencode(query)))
        route.fulfill(status=302, headers={"Location": tampered})

    page.goto(f"{oidc_server.url}/")
    page.click("#login-oidc")
    page.route(f"{oidc_provider.url}/login/**", tamper)
    sign_in_at_provider(page, "minjun.kim")

    expect(page.locator("#login-error")).to_contain_text("로그인을 확인하지 못했습니다")
    expect(page.locator("#app-view")).to_be_hidden()
    assert in_db_thread(lambda: ActionLog.objects.get().state) == "state"


def test_oidc_browser_provider_down_is_a_clear_error(oidc_server, oidc_provider, page):
    company()
    page.goto(f"{oidc_server.url}/")
    oidc_provider.stop()
    try:
        page.click("#login-oidc")
        expect(page.locator("#login-error")).to_contain_text(
            "회사 계정 로그인 서비스에 지금 연결할 수 없습니다"
        )
        assert page.url == f"{oidc_server.url}/"
        # The password form stays usable meanwhile.
        expect(page.locator("#login-user-id")).to_be_editable()
    finally:
        oidc_provider.start()
