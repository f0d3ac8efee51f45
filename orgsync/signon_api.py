"""REST interface of sign-on beyond the password: the ERP ticket exchange and the WebSocket
ticket. Thin: parse, call orgsync.sso / messenger.wstickets, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messenger.ratelimit import rate_limit_hit
from messenger.schema import error_responses
from messenger.wstickets import ws_ticket_issue
from orgsync import sso

TokensOutput = inline_serializer(
    name="SignOnTokens",
    fields={"access": serializers.CharField(), "refresh": serializers.CharField()},
)


class ErpSignOnApi(APIView):
    """POST /api/auth/erp {ticket, kind?}: an ERP-signed ticket for {access, refresh}."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=inline_serializer(
            name="ErpSignOnInput",
            fields={
                "ticket": serializers.CharField(help_text="The JWT the ERP signed (docs/sso.md)"),
                "kind": serializers.ChoiceField(choices=["web", "mobile"], required=False),
            },
        ),
        responses={200: TokensOutput, **error_responses(400, 401, 404, 429)},
        operation_id="auth_erp",
    )
    def post(self, request: Request) -> Response:
        data = request.data if hasattr(request.data, "get") else {}
        tokens = sso.erp_sign_on(
            ticket=data.get("ticket"),
            device=data.get("kind"),
            address=request.META.get("REMOTE_ADDR", ""),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(tokens)


class WsTicketApi(APIView):
    """POST /api/auth/ws-ticket: a single-use ticket to open the socket with (?ticket=), bound
    to the claims of the access token that asked for it."""

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                name="WsTicket",
                fields={
                    "ticket": serializers.CharField(),
                    "expires_in": serializers.IntegerField(help_text="seconds"),
                },
            ),
            **error_responses(401, 429),
        },
        operation_id="auth_ws_ticket",
    )
    def post(self, request: Request) -> Response:
        rate_limit_hit(scope="ws_ticket", key=request.user.pk)
        ticket, lifetime = ws_ticket_issue(claims=request.auth.payload)
        return Response({"ticket": ticket, "expires_in": lifetime})
