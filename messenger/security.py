"""Response headers of the pages people open: who may frame them; and why a login is refused
when the site is set up for https but was reached over http.

The CSP itself is django-csp's (settings.CONTENT_SECURITY_POLICY, frame-ancestors 'none' for
everything). The browser client's pages may be shown inside the ERP portal: their
frame-ancestors name our own origin and the ERP origins of MESSENGER_WS_ORIGINS, read at
request time so that a changed setting applies without a code change.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

View = Callable[..., HttpResponse]


def frame_ancestors() -> list[str]:
    return ["'self'", *settings.MESSENGER_WS_ORIGINS]


def frameable_by_erp(view: View) -> View:
    """Let our own pages and the ERP portal origins frame this page, and nobody else."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response._csp_replace = {"frame-ancestors": frame_ancestors()}  # type: ignore[attr-defined]
        if settings.MESSENGER_WS_ORIGINS:
            # X-Frame-Options cannot name other origins; browsers that know CSP obey
            # frame-ancestors instead, so the older header is left out here.
            response.xframe_options_exempt = True  # type: ignore[attr-defined]
        else:
            response["X-Frame-Options"] = "SAMEORIGIN"
        return response

    return wrapped


HTTPS_REFUSAL_TITLE = _("Log-in needs https")
HTTPS_REFUSAL = _(
    "This site is configured for https (DJANGO_HTTPS=1, or DJANGO_SECURE_COOKIES=1), so its "
    "session and CSRF cookies are Secure, but it was reached over http: the browser does not "
    "keep those cookies on an http page, and logging in cannot work. Open the site with its "
    "https:// address. If it is served over plain http only, set DJANGO_HTTPS=0; if you did "
    "open it with https, the proxy in front does not say so (DJANGO_PROXY_SSL_HEADER)."
)


def secure_cookies_over_http(request: HttpRequest) -> bool:
    """The cookies a log-in needs are Secure, and this request came over http: a browser drops
    them, so the admin log-in and its CSRF check cannot succeed."""
    secure = settings.SESSION_COOKIE_SECURE or settings.CSRF_COOKIE_SECURE
    return bool(secure) and not request.is_secure()


def https_refusal(request: HttpRequest) -> dict[str, Any]:
    """Template context: `https_refusal`, the explanation the admin log-in page shows when the
    log-in cannot work over this http request, else None."""
    return {"https_refusal": HTTPS_REFUSAL if secure_cookies_over_http(request) else None}
