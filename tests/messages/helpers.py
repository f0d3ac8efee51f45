"""Small helpers shared by the REST tests of orgsync, rooms and messages."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response


def assert_error(response: Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is the one JSON error shape with this status (and code, if given)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str)
    assert error["code"]
    assert isinstance(error.get("message"), str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def bodies(page: dict[str, Any]) -> list[str]:
    """The bodies of a history page or search result, in the order given."""
    return [m["body"] for m in page["messages"]]
