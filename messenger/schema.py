"""OpenAPI generation: every operation documents the errors it can answer with, in the one
error shape of messenger.errors, so a client (and the schema fuzz) knows every status it may get.

The errors any operation can give follow from its inputs and its view: 400 when it takes a
body, query parameters or a message id (a UUID) in its path; 401 when it authenticates; 404 when
its path names something (unknown, or not visible to the caller: one answer for both); 403 when
that is a room or a message (a member lacking a right); 415 when it takes a body; 429 when it
is throttled. Errors peculiar to one operation (409, 413, ...) are declared on the view with
`error_responses(...)`. An optional query parameter may be sent empty: the views take it as
not given.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class SessionJWTScheme(SimpleJWTScheme):
    """The bearer scheme of simplejwt for its subclass that also checks the session."""

    target_class = "orgsync.authentication.SessionJWTAuthentication"


# Path parameters the service parses (a malformed one is a 400) and that name something of a room,
# where some actions are for the master or the sender only (a 403 for other members).
PARSED_PATH_PARAMETERS = {"msg_id"}
MEMBERS_ONLY_PATH_PARAMETERS = {"room_id", "msg_id"}

ERROR_DESCRIPTIONS = {
    400: "The input is not valid (`invalid`, or a more precise code).",
    401: "Not logged in, or the token is invalid or expired.",
    403: "A member lacking a right: not the room master (`not_room_master`), not the sender.",
    404: "Not found, or not visible to you (a room you are not in): the same answer.",
    409: "Conflicts with the current state, e.g. a msg_id already used elsewhere.",
    410: "Gone: the file has expired.",
    413: "Too large.",
    415: "The body's content type is not accepted.",
    416: "The requested range is not satisfiable.",
    429: "Too many requests; slow down.",
    503: "Briefly unavailable: the database, Redis (`unavailable`) or the company directory "
    "that checks passwords (`directory_unavailable`); try again.",
}


class ErrorDetailOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`.")
    message = serializers.CharField(help_text="A sentence for people.")
    detail = serializers.JSONField(required=False, help_text="Per-field details, when any.")


class ErrorOutput(serializers.Serializer):
    error = ErrorDetailOutput()


def error_responses(*statuses: int) -> dict[tuple[int, str], OpenApiResponse]:
    """Responses for `@extend_schema(responses={...})`: the error shape under these statuses."""
    return {
        (status, "application/json"): OpenApiResponse(
            ErrorOutput, description=ERROR_DESCRIPTIONS.get(status, "")
        )
        for status in statuses
    }


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            # An optional query parameter given empty (?room_id=) counts as not given.
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        responses = operation["responses"]
        for status in self._common_error_statuses(operation):
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    error_responses(status)[(status, "application/json")],
                    str(status),
                    media_types=["application/json"],
                )
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _common_error_statuses(self, operation: dict[str, Any]) -> list[int]:
        parameters = operation.get("parameters", [])
        in_path = {p["name"] for p in parameters if p.get("in") == "path"}
        in_query = [p for p in parameters if p.get("in") == "query"]
        has_body = "requestBody" in operation
        authenticated = bool(self.view.get_authenticators()) or not all(
            isinstance(p, AllowAny) for p in self.view.get_permissions()
        )
        statuses = []
        if has_body or in_query or in_path & PARSED_PATH_PARAMETERS:
            statuses.append(400)
        if authenticated:
            statuses.append(401)
            if in_path & MEMBERS_ONLY_PATH_PARAMETERS:
                statuses.append(403)
        if in_path:
            statuses.append(404)
        if has_body:
            statuses.append(415)
        if self.view.get_throttles():
            statuses.append(429)
        return statuses
