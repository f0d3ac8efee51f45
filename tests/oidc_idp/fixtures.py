"""Fixtures of the test OpenID provider (a pytest plugin named in tests/conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.oidc_idp.server import CLIENT_ID, CLIENT_SECRET, PASSWORD, OidcProvider


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory) -> Iterator[OidcProvider]:
    """The provider, prepared once per test session (about 10 s) and running throughout; a
    test that stops it starts it again before it ends."""
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-provider"))
    provider.prepare()
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


def oidc_settings(provider: OidcProvider, **changes: Any) -> dict[str, Any]:
    """MESSENGER_OIDC pointing at the test provider, as docs/operations.md configures it."""
    conf = {
        "DISCOVERY_URL": provider.discovery_url,
        "ISSUER": provider.issuer,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "SCOPES": "openid profile",
        "CLAIM": "preferred_username",
        "REDIRECT_URI": "",
        "ID_TOKEN_ALGS": ["RS256", "PS256", "ES256"],
        "TIMEOUT_SECONDS": 5,
        "STATE_SECONDS": 600,
        "CODE_SECONDS": 60,
    }
    conf.update(changes)
    return conf


def oidc_env(provider: OidcProvider) -> dict[str, str]:
    """The same settings as environment variables, for a server process."""
    return {
        "MESSENGER_OIDC_ISSUER": provider.issuer,
        "MESSENGER_OIDC_CLIENT_ID": CLIENT_ID,
        "MESSENGER_OIDC_CLIENT_SECRET": CLIENT_SECRET,
    }


def sign_in_at_provider(authorize_url: str, username: str, password: str = PASSWORD) -> str:
    """What a person's browser does at the provider: open the authorisation URL, log in on its
    form, and come back with the redirect. Returns the URL the provider redirects to."""
    with httpx.Client(follow_redirects=False, timeout=10) as web:
        answer = web.get(authorize_url)
        assert answer.status_code == 302, answer.text[:300]
        login_url = urljoin(authorize_url, answer.headers["location"])
        web.get(login_url)
        next_url = parse_qs(urlsplit(login_url).query)["next"][0]
        answer = web.post(
            login_url,
            data={
                "username": username,
                "password": password,
                "next": next_url,
                "csrfmiddlewaretoken": web.cookies["idp_csrftoken"],
            },
        )
        assert answer.status_code == 302, answer.text[:300]
        answer = web.get(urljoin(authorize_url, answer.headers["location"]))
        assert answer.status_code == 302, answer.text[:300]
        return answer.headers["location"]


def provider_tokens(
    provider: OidcProvider,
    username: str,
    *,
    nonce: str,
    redirect_uri: str,
    scope: str = "openid profile",
) -> dict[str, Any]:
    """The provider's token response (access token, ID token) for this person, obtained as a
    client would: authorisation code with PKCE, then the token endpoint."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = httpx.QueryParams(
        {
            "client_id": CLIENT_ID,
            "response_type": "code",
            "scope": scope,
            "redirect_uri": redirect_uri,
            "state": secrets.token_urlsafe(16),
            "nonce": nonce,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
    )
    back = sign_in_at_provider(f"{provider.issuer}/authorize?{query}", username)
    code = parse_qs(urlsplit(back).query)["code"][0]
    answer = httpx.post(
        f"{provider.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()
