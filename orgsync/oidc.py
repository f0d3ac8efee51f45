"""Sign-in with the company's OpenID provider (Keycloak, Entra ID, ADFS): the authorisation code
flow with PKCE (S256), state and nonce, through Authlib's Django client. docs/sso.md.

The provider's tokens never reach the browser. The callback checks the ID token (signature by
the provider's published keys, issuer, audience, expiry, nonce), maps the configured claim to
an active account (never creating one: the HR sync owns accounts) and leaves a one-time code
(at most 60 s, single use) in the cache; the page trades that code for the messenger's own
tokens, issued by services.login_tokens at that moment. Tokens are therefore never stored and
never put in a URL.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import is_secure_transport
from authlib.integrations.django_client import DjangoIntegration, DjangoOAuth2App
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from joserfc.errors import JoseError

from messenger.errors import ApplicationError, NotFound, RateLimited
from messenger.ratelimit import rate_limit_check, rate_limit_record
from orgsync import services
from orgsync.models import User

logger = logging.getLogger(__name__)

METHOD = "oidc"
DEVICE = "web"
CODE_KEY = "oidc:code:"
# The provider's discovery document is read again after this long (endpoints rarely move; a
# new signing key is fetched at once when an ID token names an unknown key id).
METADATA_MAX_AGE_SECONDS = 24 * 3600
USER_ID_MAX_CHARS = 64


class OidcOff(NotFound):
    code = "oidc_off"
    message = _("Sign-in with the company account is not set up on this server.")


class OidcStateInvalid(ApplicationError):
    status = 401
    code = "oidc_state"
    message = _(
        "This sign-in could not be verified: it expired or was started in another window. "
        "Sign in again."
    )


class OidcDenied(ApplicationError):
    status = 401
    code = "oidc_denied"
    message = _("The company sign-in was cancelled or refused.")


class OidcInvalid(ApplicationError):
    status = 401
    code = "oidc_invalid"
    message = _("The company sign-in answered with a token that could not be verified.")


class OidcNoAccount(ApplicationError):
    status = 401
    code = "no_active_account"
    message = _("Your company account has no active messenger account. Ask your administrator.")


class OidcUnavailable(ApplicationError):
    status = 503
    code = "oidc_unavailable"
    message = _(
        "The company sign-in service cannot be reached right now. Try again later, or log in "
        "with your password."
    )


class OidcCodeInvalid(ApplicationError):
    status = 401
    code = "oidc_code_invalid"
    message = _("This sign-in has expired or was already used. Sign in again.")


# The provider cannot be reached or answers garbage (requests' JSON errors are ValueErrors).
PROVIDER_DOWN = (requests.RequestException, ValueError)
# The provider answered, but with an error or a token that does not verify.
TOKEN_REFUSED = (AuthlibBaseError, JoseError)


def oidc_config() -> dict[str, Any] | None:
    """The OpenID Connect settings when sign-in with the company account is set up, else None."""
    conf = settings.MESSENGER_OIDC
    if conf["CLIENT_ID"] and conf["DISCOVERY_URL"]:
        return conf
    return None


def oidc_enabled() -> bool:
    return oidc_config() is not None


class _ProviderApp(DjangoOAuth2App):
    """Authlib's Django client, holding the provider to the settings: endpoints over https
    (loopback excepted), the configured issuer, and ID tokens signed only with the accepted
    asymmetric algorithms (never HS256 with the client secret, never `none`)."""

    accepted_algs: list[str] = []
    expected_issuer = ""

    def load_server_metadata(self) -> dict[str, Any]:
        loaded = self.server_metadata.get("_loaded_at")
        if loaded is not None and time.time() - loaded > METADATA_MAX_AGE_SECONDS:
            self.server_metadata.clear()
        fresh = "_loaded_at" not in self.server_metadata
        metadata = super().load_server_metadata()
        if fresh:
            try:
                self._check(metadata)
            except OidcUnavailable:
                self.server_metadata.clear()
                raise
            metadata["id_token_signing_alg_values_supported"] = list(self.accepted_algs)
        return metadata

    def _check(self, metadata: dict[str, Any]) -> None:
        issuer = str(metadata.get("issuer", "")).rstrip("/")
        if self.expected_issuer and issuer != self.expected_issuer:
            logger.error(
                "OpenID provider names issuer %r, not the configured MESSENGER_OIDC_ISSUER", issuer
            )
            raise OidcUnavailable()
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            url = metadata.get(name)
            if not url or not is_secure_transport(url):
                logger.error("OpenID provider's %s is missing or not https", name)
                raise OidcUnavailable()


_apps: dict[tuple[str, ...], _ProviderApp] = {}


def _app(conf: dict[str, Any]) -> _ProviderApp:
    """One client per configuration (tests change the settings), reused across requests so the
    discovery document and the provider's keys are fetched once."""
    key = tuple(f"{name}={value}" for name, value in sorted(conf.items()))
    app = _apps.get(key)
    if app is not None:
        return app
    if not is_secure_transport(conf["DISCOVERY_URL"]):
        logger.error("MESSENGER_OIDC_DISCOVERY_URL must be https (or a loopback address)")
        raise OidcUnavailable()
    client_kwargs: dict[str, Any] = {
        "scope": conf["SCOPES"],
        "code_challenge_method": "S256",
        "default_timeout": conf["TIMEOUT_SECONDS"],
    }
    if not conf["CLIENT_SECRET"]:
        # A public client: no secret, the PKCE verifier proves it.
        client_kwargs["token_endpoint_auth_method"] = "none"  # noqa: S105
    framework = DjangoIntegration("oidc")
    framework.expires_in = conf["STATE_SECONDS"]
    app = _ProviderApp(
        framework,
        name="oidc",
        client_id=conf["CLIENT_ID"],
        client_secret=conf["CLIENT_SECRET"] or None,
        server_metadata_url=conf["DISCOVERY_URL"],
        client_kwargs=client_kwargs,
    )
    app.accepted_algs = list(conf["ID_TOKEN_ALGS"])
    app.expected_issuer = conf["ISSUER"]
    _apps.clear()
    _apps[key] = app
    return app


def _config() -> dict[str, Any]:
    conf = oidc_config()
    if conf is None:
        raise OidcOff()
    return conf


def _refuse(
    error: ApplicationError,
    *,
    reason: str,
    address: str,
    count: bool,
    user: User | None = None,
    attempted: str = "",
) -> ApplicationError:
    """Write the refusal to the action log (never a code or token), count it against the
    address's failed-login limit when it may be an attack, and return the error to raise."""
    services.login_record_method(
        method=METHOD,
        ok=False,
        state=reason,
        user=user,
        attempted=attempted,
        device=DEVICE,
        address=address,
    )
    if count:
        rate_limit_record(scope="login_ip", key=address)
    return error


def _check_address(address: str) -> None:
    try:
        rate_limit_check(scope="login_ip", key=address)
    except RateLimited:
        services.login_record_method(
            method=METHOD, ok=False, state="locked", device=DEVICE, address=address
        )
        raise


def oidc_begin(*, request: HttpRequest) -> str:
    """Start a sign-in: the provider's authorisation URL to send the browser to, with a fresh
    state, nonce and PKCE verifier kept in this browser's session."""
    conf = _config()
    app = _app(conf)
    redirect_uri = conf["REDIRECT_URI"] or request.build_absolute_uri(reverse("oidc-callback"))
    try:
        started = app.create_authorization_url(redirect_uri)
    except PROVIDER_DOWN as error:
        logger.warning("OpenID provider unreachable at sign-in start: %s", type(error).__name__)
        raise OidcUnavailable() from error
    app.save_authorize_data(request, redirect_uri=redirect_uri, **started)
    return started["url"]


def _claim_value(app: _ProviderApp, token: dict[str, Any], claim: str) -> str:
    """The claim from the verified ID token, or else from the userinfo endpoint (ADFS and
    Keycloak put some claims only there), whose subject must be the ID token's."""
    id_claims = token.get("userinfo") or {}
    value = id_claims.get(claim)
    if value is None and app.load_server_metadata().get("userinfo_endpoint"):
        info = app.userinfo(token=token)
        if info.get("sub") != id_claims.get("sub"):
            raise OidcInvalid()
        value = info.get(claim)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > USER_ID_MAX_CHARS:
        logger.warning("OpenID sign-in without a usable %r claim", claim)
        raise OidcInvalid()
    return value.strip()


def oidc_finish(*, request: HttpRequest, address: str) -> str:
    """Finish a sign-in at the callback: check state, trade the provider's code (with the PKCE
    verifier) for its tokens, verify the ID token and map its claim to an active account.
    Returns the one-time code that the page exchanges for the messenger's tokens."""
    conf = _config()
    app = _app(conf)
    _check_address(address)
    state = request.GET.get("state") or ""
    state_data = app.framework.get_state_data(request.session, state) if state else None
    if request.GET.get("error"):
        if state_data is not None:
            app.framework.clear_state_data(request.session, state)
        # The provider's error is a word of its protocol (access_denied, ...); anything else
        # the URL may carry stays out of the log.
        error = request.GET["error"]
        shown = error if len(error) <= 40 and error.replace("_", "").isalnum() else "?"
        logger.info("OpenID provider refused the sign-in: %s", shown)
        raise _refuse(OidcDenied(), reason="denied", address=address, count=False)
    if state_data is None:
        raise _refuse(OidcStateInvalid(), reason="state", address=address, count=True)
    try:
        token = app.authorize_access_token(request)
        if "id_token" not in token or "userinfo" not in token:
            raise OidcInvalid()
        user_id = _claim_value(app, token, conf["CLAIM"])
    except OidcInvalid as error:
        raise _refuse(error, reason="invalid", address=address, count=True) from None
    except TOKEN_REFUSED as error:
        logger.warning("OpenID sign-in refused: %s", type(error).__name__)
        raise _refuse(OidcInvalid(), reason="invalid", address=address, count=True) from None
    except PROVIDER_DOWN as error:
        logger.warning("OpenID provider unreachable at the callback: %s", type(error).__name__)
        raise _refuse(OidcUnavailable(), reason="down", address=address, count=False) from None
    user = User.objects.filter(user_id=user_id).first()
    if user is None or not user.is_active:
        reason = "unknown" if user is None else "inactive"
        raise _refuse(
            OidcNoAccount(),
            reason=reason,
            address=address,
            count=True,
            user=user,
            attempted=user_id,
        )
    code = secrets.token_urlsafe(32)
    cache.set(_code_key(code), {"user": user.pk}, timeout=conf["CODE_SECONDS"])
    return code


def _code_key(code: str) -> str:
    # Hashed: the cache never holds a usable code.
    return CODE_KEY + hashlib.sha256(code.encode()).hexdigest()


def oidc_code_redeem(*, code: str, address: str, user_agent: str) -> dict[str, str]:
    """Trade a one-time code from the callback for the messenger's access and refresh tokens.
    A code works once and for at most MESSENGER_OIDC_CODE_SECONDS; the account must still be
    active."""
    _config()
    _check_address(address)
    data = cache.get(_code_key(code)) if 20 <= len(code) <= 100 else None
    # delete() is true for one caller only: of two racing redemptions, one wins.
    if not isinstance(data, dict) or not cache.delete(_code_key(code)):
        raise _refuse(OidcCodeInvalid(), reason="code", address=address, count=True)
    user = User.objects.filter(pk=data.get("user")).first()
    if user is None or not user.is_active:
        raise _refuse(OidcNoAccount(), reason="inactive", address=address, count=False, user=user)
    services.login_record_method(
        method=METHOD,
        ok=True,
        user=user,
        attempted=user.user_id,
        device=DEVICE,
        address=address,
    )
    return services.login_tokens(
        user=user, method=METHOD, device=DEVICE, address=address, user_agent=user_agent
    )
