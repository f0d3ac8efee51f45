"""The REST calls the URL conf serves under /api/, found by walking it: the authorisation
matrix is checked against this list, so no endpoint can be added without a row."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver

# What a client may try on a plain Django view, which declares no methods.
PLAIN_VIEW_METHODS = ("get", "post", "put", "patch", "delete")


def api_calls() -> list[tuple[str, str, str]]:
    """(URL name, or the route when it has none; route; method) of every view under /api/."""
    calls = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                if not route.startswith("api/"):
                    continue
                view = getattr(pattern.callback, "cls", None)
                if view is None:
                    methods = list(PLAIN_VIEW_METHODS)
                else:
                    methods = [
                        m
                        for m in view.http_method_names
                        if m not in ("options", "head") and hasattr(view, m)
                    ]
                calls.extend((pattern.name or route, route, m) for m in methods)

    walk(get_resolver().url_patterns, "")
    return calls
