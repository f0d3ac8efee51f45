"""Typed application errors and the one JSON error shape REST and WebSocket both use.

Services raise a subclass of ApplicationError; the DRF exception handler and the WebSocket
gateway turn it into {"error": {"code", "message"}} with the status the class carries.
Messages are lazy translations (gettext_lazy, or format_lazy for those with values), rendered
in the reader's language when the answer is written: the request's for REST, the socket's
for the gateway (messenger/i18n.py).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    status = 400
    code = "bad_request"
    message: Any = _("The request is not valid.")

    def __init__(self, message: Any = None, *, extra: dict[str, Any] | None = None):
        self.message = message or self.message
        self.extra = extra or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        """The error's body, its message in the active language."""
        body: dict[str, Any] = {"code": self.code, "message": str(self.message)}
        if self.extra:
            body["detail"] = self.extra
        return body


class InvalidInput(ApplicationError):
    code = "invalid"
    message = _("The request is not valid.")


class UnknownEvent(InvalidInput):
    code = "unknown_event"
    message = _("Unknown event.")


class NotAuthenticated(ApplicationError):
    status = 401
    code = "not_authenticated"
    message = _("Log in first.")


class NotAllowed(ApplicationError):
    status = 403
    code = "forbidden"
    message = _("You may not do this.")


class NotRoomMaster(NotAllowed):
    code = "not_room_master"
    message = _("Only the room master may do this.")


class NotMessageSender(NotAllowed):
    code = "not_sender"
    message = _("Only the sender may do this.")


class NotFound(ApplicationError):
    status = 404
    code = "not_found"
    message = _("Not found.")


class NotRoomMember(NotFound):
    """Someone not in the room (never was, or left) naming it: answered exactly as a room that
    does not exist, so that room ids, which are sequential, tell an outsider nothing."""

    message = _("No such room.")


class Conflict(ApplicationError):
    status = 409
    code = "conflict"
    message = _("The request conflicts with the current state.")


class PeerDeactivated(Conflict):
    code = "peer_deactivated"
    message = _(
        "This person's account is deactivated: the conversation stays readable, but nothing "
        "more can be sent to them."
    )


class TooLarge(ApplicationError):
    status = 413
    code = "too_large"
    message = _("The request is too large.")


class RateLimited(ApplicationError):
    """Over a rate limit (messenger/ratelimit.py); retry_after (seconds) goes into the body's
    detail for both transports and into REST's Retry-After header."""

    status = 429
    code = "rate_limited"
    message = _("Too many requests; slow down.")

    def __init__(self, message: str | None = None, *, retry_after: int | None = None):
        self.retry_after = retry_after
        super().__init__(message, extra={"retry_after": retry_after} if retry_after else None)


class ServiceUnavailable(ApplicationError):
    status = 503
    code = "unavailable"
    message = _("The service is briefly unavailable (database or Redis); try again.")


class DirectoryUnavailable(ServiceUnavailable):
    """The company directory (LDAP / Active Directory) could not be asked about a password: down,
    too slow, or refusing the messenger's own connection. Never reported as a wrong password."""

    code = "directory_unavailable"
    message = _(
        "The company directory cannot be reached, so your password cannot be checked right now. "
        "This does not mean your password is wrong; try again in a few minutes."
    )


# A lost or refused connection to the database or Redis, a lock wait timeout, a deadlock: the
# request did nothing it can report, and the same request (idempotent by its ids) may be sent
# again. Anything else unknown stays a 500.
def _outage_types() -> tuple[type[BaseException], ...]:
    from django.db import InterfaceError, OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


def is_redis_outage(exc: BaseException) -> bool:
    """Whether `exc` is a lost, refused or timed-out connection to Redis (as the cache, the
    fan-out or, through kombu, Celery's broker)."""
    from kombu.exceptions import OperationalError as BrokerUnreachable
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, RedisConnectionError | RedisTimeoutError | BrokerUnreachable)


def as_outage(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 error for a database or Redis outage, or None for any other exception."""
    if isinstance(exc, _outage_types()):
        logger.warning("service unavailable: %s: %s", type(exc).__name__, exc)
        return ServiceUnavailable()
    return None


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if detail:
        error["detail"] = detail
    return {"error": error}


def _first_message(detail: Any) -> str:
    """A human sentence from DRF's nested validation detail: the first message, with its field."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner = _first_message(value)
            return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def validation_error_body(detail: Any) -> dict[str, Any]:
    return error_body("invalid", _first_message(detail), detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every error of the REST API as {"error": {"code", "message"}}."""
    exc = as_outage(exc) or exc
    if isinstance(exc, ApplicationError):
        response = Response({"error": exc.as_dict()}, status=exc.status)
        if isinstance(exc, RateLimited) and exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        response.data = validation_error_body(exc.detail)
    elif isinstance(exc, drf_exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        if isinstance(detail, dict):
            message = str(detail.get("detail", exc.default_detail))
            code = getattr(detail.get("detail"), "code", code)
        else:
            message = str(detail)
        if response.status_code == 401:
            code = "not_authenticated" if code == "not_authenticated" else code
        response.data = error_body(str(code), message)
    return response
