"""Plain Django views: the browser client's page, the demo ERP portal page, a health check
for load balancers, and the API's answer for unknown paths."""

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import csrf
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from messenger.errors import error_body
from messenger.security import (
    HTTPS_REFUSAL,
    HTTPS_REFUSAL_TITLE,
    frameable_by_erp,
    secure_cookies_over_http,
)
from orgsync.oidc import oidc_enabled


@require_GET
@frameable_by_erp
def client(request: HttpRequest) -> HttpResponse:
    return render(request, "messenger/client.html", {"oidc_enabled": oidc_enabled()})


@require_GET
@frameable_by_erp
def portal_demo(request: HttpRequest) -> HttpResponse:
    """A stand-in ERP portal page that includes static/messenger/embed.js with one script tag
    (docs/embed.md). Served in debug only, like the demo company."""
    if not settings.DEBUG:
        raise Http404
    return render(request, "messenger/portal_demo.html")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


@csrf_exempt
def api_not_found(request: HttpRequest) -> JsonResponse:
    # Exempt: a POST to a mistyped API path is a 404 in the API's shape, not Django's HTML 403
    # for a missing CSRF cookie (API clients authenticate with a bearer token, not a cookie).
    return JsonResponse(error_body("not_found", "No such API endpoint."), status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: Django's page, unless the cookies are Secure and the request came over
    http; then the refusal says so (the browser dropped the CSRF cookie), in the reader's
    language, instead of "CSRF cookie not set"."""
    if not secure_cookies_over_http(request):
        return csrf.csrf_failure(request, reason)
    context = {"title": HTTPS_REFUSAL_TITLE, "explanation": HTTPS_REFUSAL}
    return render(request, "messenger/https_refusal.html", context, status=403)
