"""ERP ticket sign-on (docs/sso.md): the ERP's backend, which knows who is logged in there,
signs a short JWT naming the employee; the messenger checks it, spends its `jti` once and
starts a session through services.login_tokens.

The key follows the ticket's `alg`, never the other way round: HS256 is checked with the
shared secret only, RS256 and ES256 with the ERP's public key only (of the matching type), and
nothing else is accepted, so neither `none` nor an HS256 ticket "signed" with the public key
gets through. Neither tickets nor their claims are ever logged.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from messenger.errors import ApplicationError, InvalidInput, NotFound, RateLimited
from messenger.ratelimit import rate_limit_check, rate_limit_record
from orgsync import services
from orgsync.models import ActionLog, UsedErpTicket, User

logger = logging.getLogger(__name__)

# A ticket is three base64url parts of a few hundred characters; anything far longer is not one.
TICKET_MAX_CHARS = 8192
CLAIM_MAX_CHARS = 255
REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti"]
ASYMMETRIC = {"RS256", "ES256"}


class ErpNotConfigured(NotFound):
    code = "not_configured"
    message = _("ERP sign-on is not configured on this server.")


class TicketInvalid(ApplicationError):
    status = 401
    code = "ticket_invalid"
    message = _(
        "The sign-on ticket is not valid (signature, issuer, audience or lifetime). "
        "Sign in to the ERP again."
    )


class TicketUsed(ApplicationError):
    status = 401
    code = "ticket_used"
    message = _("This sign-on ticket has already been used. Ask the ERP for a new one.")


class NoActiveAccount(ApplicationError):
    status = 401
    code = "no_active_account"
    message = _("No active messenger account has this user ID.")


@dataclass(frozen=True)
class ErpTicket:
    """What a verified ticket says: who, and the id and expiry that make it single-use."""

    sub: str
    jti: str
    expires_at: datetime


def erp_configured() -> bool:
    """Whether ERP tickets are accepted here: an issuer and a secret or a public key."""
    conf = settings.MESSENGER_ERP
    return bool(conf["ISSUER"] and (conf["SECRET"] or conf["PUBLIC_KEY_FILE"]))


def _public_key(alg: str) -> Any:
    path = settings.MESSENGER_ERP["PUBLIC_KEY_FILE"]
    if not path:
        return None
    try:
        key = load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as error:
        raise ImproperlyConfigured(
            f"MESSENGER_ERP_PUBLIC_KEY_FILE is not a readable PEM public key: {error}"
        ) from error
    if alg == "RS256" and isinstance(key, RSAPublicKey):
        return key
    if alg == "ES256" and isinstance(key, EllipticCurvePublicKey):
        return key if isinstance(key.curve, SECP256R1) else None
    return None


def _key_for(alg: Any) -> Any:
    """The key that checks a ticket of this alg, or None: HS256 only with the shared secret,
    RS256/ES256 only with the public key of the matching type."""
    if alg == "HS256":
        return settings.MESSENGER_ERP["SECRET"] or None
    if alg in ASYMMETRIC:
        return _public_key(alg)
    return None


def erp_ticket_verify(*, ticket: str) -> ErpTicket:
    """Check a ticket's signature and claims (PROTOCOL.md "Sign-on"); raise TicketInvalid."""
    conf = settings.MESSENGER_ERP
    try:
        alg = jwt.get_unverified_header(ticket).get("alg")
    except jwt.InvalidTokenError:
        raise TicketInvalid() from None
    key = _key_for(alg)
    if key is None:
        logger.info("ERP ticket refused: algorithm %r has no configured key", str(alg)[:16])
        raise TicketInvalid()
    try:
        claims = jwt.decode(
            ticket,
            key,
            algorithms=[alg],
            audience=conf["AUDIENCE"],
            issuer=conf["ISSUER"],
            leeway=conf["LEEWAY_SECONDS"],
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.InvalidTokenError as error:
        logger.info("ERP ticket refused: %s", type(error).__name__)
        raise TicketInvalid() from None
    sub, jti, iat, exp = claims["sub"], claims["jti"], claims["iat"], claims["exp"]
    if not all(isinstance(v, str) and 0 < len(v) <= CLAIM_MAX_CHARS for v in (sub, jti)):
        logger.info("ERP ticket refused: sub or jti is not a short string")
        raise TicketInvalid()
    if not 0 < exp - iat <= conf["MAX_LIFETIME_SECONDS"]:
        logger.info("ERP ticket refused: lifetime of %s s", exp - iat)
        raise TicketInvalid()
    return ErpTicket(sub=sub, jti=jti, expires_at=datetime.fromtimestamp(exp, tz=UTC))


@transaction.atomic
def erp_ticket_spend(*, ticket: ErpTicket) -> None:
    """Mark a verified ticket used; TicketUsed if it was already. The mark outlives the
    ticket's expiry by USED_KEEP_SECONDS, and marks past that are swept here."""
    now = timezone.now()
    UsedErpTicket.objects.filter(expires_at__lt=now).delete()
    keep = timedelta(
        seconds=settings.MESSENGER_ERP["USED_KEEP_SECONDS"]
        + settings.MESSENGER_ERP["LEEWAY_SECONDS"]
    )
    digest = hashlib.sha256(f"{settings.MESSENGER_ERP['ISSUER']}\n{ticket.jti}".encode())
    try:
        with transaction.atomic():
            UsedErpTicket.objects.create(
                jti_hash=digest.hexdigest(), expires_at=ticket.expires_at + keep
            )
    except IntegrityError:
        raise TicketUsed() from None


def erp_sign_on_record(
    *, user_id: str, ok: bool, state: str, device: Any, address: str
) -> ActionLog:
    """Log one ERP sign-on attempt (the sibling of services.login_record), with the account
    when the ticket was genuine; never the ticket."""
    user = User.objects.filter(user_id=user_id).first() if user_id else None
    if not ok:
        logger.info("ERP sign-on refused (%s) for user pk %s", state, user.pk if user else None)
    return services.action_log_record(
        user=user,
        work=ActionLog.Work.LOGIN if ok else ActionLog.Work.LOGIN_FAILED,
        device=device if device in services.LOGIN_DEVICES else "",
        state=state,
        detail=f"{address} erp {user_id[:64]}".strip(),
    )


def erp_sign_on(*, ticket: Any, device: Any, address: str, user_agent: str) -> dict[str, str]:
    """Exchange an ERP ticket for the person's access and refresh tokens.

    Refused tickets count against the login_ip rate limit and are logged as login_fail with
    the reason (invalid, used, unknown, inactive; locked when the address is over its limit).
    """
    if not erp_configured():
        raise ErpNotConfigured()
    if not isinstance(ticket, str) or not ticket.strip():
        raise InvalidInput(_("ticket is required: the sign-on ticket the ERP signed."))
    if len(ticket) > TICKET_MAX_CHARS:
        raise InvalidInput(_("ticket is too long to be a sign-on ticket."))
    attempt = {"device": device, "address": address}
    try:
        rate_limit_check(scope="login_ip", key=address)
    except RateLimited:
        erp_sign_on_record(user_id="", ok=False, state="locked", **attempt)
        raise
    user_id = ""
    try:
        verified = erp_ticket_verify(ticket=ticket.strip())
        user_id = verified.sub
        erp_ticket_spend(ticket=verified)
        user = User.objects.filter(user_id=verified.sub).first()
        if user is None or not user.is_active:
            state = "unknown" if user is None else "inactive"
            raise NoActiveAccount()
    except TicketInvalid:
        erp_sign_on_record(user_id="", ok=False, state="invalid", **attempt)
        rate_limit_record(scope="login_ip", key=address)
        raise
    except TicketUsed:
        erp_sign_on_record(user_id=user_id, ok=False, state="used", **attempt)
        rate_limit_record(scope="login_ip", key=address)
        raise
    except NoActiveAccount:
        erp_sign_on_record(user_id=user_id, ok=False, state=state, **attempt)
        rate_limit_record(scope="login_ip", key=address)
        raise
    erp_sign_on_record(user_id=user.user_id, ok=True, state="ok", **attempt)
    return services.login_tokens(
        user=user, method="erp", device=device, address=address, user_agent=user_agent
    )
