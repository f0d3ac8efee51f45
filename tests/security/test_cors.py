"""CORS on /api/ (django-cors-headers): the ERP portal origins of MESSENGER_WS_ORIGINS may call
the API from their pages with a bearer token; other origins get no CORS headers (the browser
then hides the answer from their scripts), no origin is ever allowed cookies, and pages
outside /api/ answer no CORS at all."""

from __future__ import annotations

import pytest
from django.test import Client

ERP = "https://erp.example.com"


@pytest.fixture(autouse=True)
def portal(settings):
    settings.CORS_ALLOWED_ORIGINS = [ERP]


def preflight(path: str, origin: str, headers: str = "authorization, content-type"):
    return Client().options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


def test_cors_preflight_from_the_portal_allows_the_token_header(db):
    response = preflight("/api/auth/token", ERP)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ERP
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response


def test_cors_answers_and_errors_to_the_portal_are_readable(db, api, alice):
    me = api(alice).get("/api/me", HTTP_ORIGIN=ERP)
    refused = Client().get("/api/me", HTTP_ORIGIN=ERP)

    assert me.status_code == 200
    assert me["Access-Control-Allow-Origin"] == ERP
    assert refused.status_code == 401
    assert refused["Access-Control-Allow-Origin"] == ERP
    assert "Retry-After" in me["Access-Control-Expose-Headers"]


def test_cors_other_origins_get_no_cors_headers(db, api, alice):
    for origin in ("https://evil.example.com", "http://erp.example.com", "null"):
        assert "Access-Control-Allow-Origin" not in preflight("/api/me", origin)
        assert "Access-Control-Allow-Origin" not in api(alice).get("/api/me", HTTP_ORIGIN=origin)


def test_cors_is_only_for_the_api(db):
    for path in ("/", "/admin/login/", "/healthz"):
        response = Client().get(path, HTTP_ORIGIN=ERP)
        assert "Access-Control-Allow-Origin" not in response, path
