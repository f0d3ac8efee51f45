"""A database or Redis outage is a clear 503 "try again", not a 500 (the fault tests in
tests/faults prove it against a real MariaDB that is killed)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from messenger.errors import api_exception_handler, as_outage


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError(2002, "Can't connect to server on '127.0.0.1'"),
        InterfaceError(0, ""),
        RedisConnectionError("Connection refused"),
    ],
)
def test_outage_is_503_unavailable(exc):
    response = api_exception_handler(exc, {})

    assert response.status_code == 503
    assert response.data["error"]["code"] == "unavailable"
    assert "try again" in response.data["error"]["message"]


def test_other_database_errors_stay_unknown():
    assert as_outage(IntegrityError(1062, "Duplicate entry")) is None
    assert api_exception_handler(IntegrityError(1062, "Duplicate entry"), {}) is None
