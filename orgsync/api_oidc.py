"""REST interface of sign-in with the company's OpenID provider (orgsync/oidc.py): the start,
the provider's callback and the exchange of the one-time code. Thin: parse, call, answer.

The start and the callback are browser navigations: they answer with redirects, and the
callback hands its result to the client page in the URL fragment (`/#oidc_code=...` or
`/#oidc_error=<code>`), which the browser never sends to a server or in a Referer."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messenger.errors import ApplicationError
from messenger.schema import error_responses
from orgsync import oidc


def _to_client(fragment: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(f"{reverse('client')}#{fragment}")
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


class OidcLoginApi(APIView):
    """GET /api/auth/oidc/login: off to the company's sign-in page (404 when not set up)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={302: OpenApiResponse(description="to the provider"), **error_responses(404)},
        operation_id="auth_oidc_login",
    )
    def get(self, request: Request) -> HttpResponseRedirect:
        try:
            url = oidc.oidc_begin(request=request._request)
        except oidc.OidcUnavailable as error:
            return _to_client(f"oidc_error={error.code}")
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "no-store"
        return response


class OidcCallbackApi(APIView):
    """GET /api/auth/oidc/callback: where the provider sends the browser back (the redirect URI
    registered there). Answers with a redirect to the client page, carrying a one-time code or
    the refusal's code in the fragment."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={302: OpenApiResponse(description="to the client page"), **error_responses(404)},
        operation_id="auth_oidc_callback",
    )
    def get(self, request: Request) -> HttpResponseRedirect:
        try:
            code = oidc.oidc_finish(
                request=request._request, address=request.META.get("REMOTE_ADDR", "")
            )
        except oidc.OidcOff:
            raise
        except ApplicationError as error:
            return _to_client(f"oidc_error={error.code}")
        return _to_client(f"oidc_code={code}")


class OidcExchangeApi(APIView):
    """POST /api/auth/oidc/exchange {code}: the one-time code from the callback -> the
    messenger's {access, refresh}. A code works once, within 60 s."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class ExchangeInput(serializers.Serializer):
        code = serializers.CharField(max_length=200)

    @extend_schema(
        request=ExchangeInput,
        responses={
            200: inline_serializer(
                "OidcTokens",
                {"access": serializers.CharField(), "refresh": serializers.CharField()},
            ),
            **error_responses(400, 401, 404, 429),
        },
        operation_id="auth_oidc_exchange",
    )
    def post(self, request: Request) -> Response:
        data = self.ExchangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = oidc.oidc_code_redeem(
            code=data.validated_data["code"],
            address=request.META.get("REMOTE_ADDR", ""),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(tokens)
