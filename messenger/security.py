"""Response headers of the pages people open: who may frame them.

The CSP itself is django-csp's (settings.CONTENT_SECURITY_POLICY, frame-ancestors 'none' for
everything). The browser client's pages may be shown inside the ERP portal: their
frame-ancestors name our own origin and the ERP origins of MESSENGER_WS_ORIGINS, read at
request time so that a changed setting applies without a code change.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse

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
