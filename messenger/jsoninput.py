"""JSON sent by clients, parsed in one way for both transports: REST bodies (JSONParser, the
API's parser) and WebSocket frames (the gateway's frame parse).

Python's decoder recurses once per level of nesting, so a small body of 1,100 `[` raised
RecursionError, which no handler expects: an HTML 500 with a traceback on every API call and a
1011 close on the socket. Nesting is now capped far below the interpreter's limit and refused
as bad input, whatever the depth of the stack the parse runs on. No request or event of the
protocol nests deeper than a few levels.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


class BadJSON(ValueError):
    """Not JSON, or nested too deeply; its text says which, for the client. (A ValueError, not
    an ApplicationError: messenger.errors imports DRF's views, which import this parser.)"""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder: json.loads with any keyword builds a new one for every call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels deep in a parsed value: walked
    level by level, without recursion."""
    level = [value] if isinstance(value, list | dict) else []
    for _depth in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, list | dict)
        ]
        if not level:
            return False
    return bool(level)


def loads(text: str) -> Any:
    """The value of a client's JSON text; BadJSON when it is not JSON or nests deeper than
    MAX_DEPTH. NaN and Infinity are not JSON and are refused too."""
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        # Python's decoder recurses once per level: about a thousand levels exhaust it.
        raise BadJSON(too_deep_message()) from None
    except ValueError as exc:
        raise BadJSON(_("Not valid JSON: %(reason)s") % {"reason": exc}) from None
    # Counting brackets (in C) spares the walk for nearly every real body or frame. The walk
    # visits only the arrays and objects the parse built: on megabytes of them it took one to
    # three times as long as the parse (a shared, noisy machine), never more.
    if text.count("[") + text.count("{") > MAX_DEPTH and nests_deeper_than(value, MAX_DEPTH):
        raise BadJSON(too_deep_message())
    return value


def too_deep_message() -> str:
    return _("JSON may nest arrays and objects at most %(depth)d levels deep.") % {
        "depth": MAX_DEPTH
    }


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser over `loads`: bad or too deeply nested JSON is a 400 `invalid` in the
    one error shape (messenger.errors), on every endpoint, before authentication matters."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError):
            message = _("The body is not text in %(encoding)s.") % {"encoding": encoding}
            raise ParseError(message, code="invalid") from None
        try:
            return loads(text)
        except BadJSON as exc:
            raise ParseError(str(exc), code="invalid") from None
