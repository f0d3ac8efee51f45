"""Shared fixtures. The suite runs on MariaDB and Redis (./test sets MYSQL_DATABASE and
REDIS_URL); the embedded default is covered by its own smoke test."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import translation
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from messages import services as message_services
from messenger import realtime
from orgsync.models import User
from tests.factories import UserFactory

# The test OpenID provider (a second process), for the sign-in tests that need it.
pytest_plugins = ["tests.oidc_idp.fixtures"]


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    def make(**fields: Any) -> User:
        return UserFactory(**fields)

    return make


@pytest.fixture
def alice(make_user) -> User:
    return make_user(user_id="alice", name="앨리스")


@pytest.fixture
def bob(make_user) -> User:
    return make_user(user_id="bob", name="밥")


@pytest.fixture
def carol(make_user) -> User:
    return make_user(user_id="carol", name="캐럴")


@pytest.fixture
def dave(make_user) -> User:
    return make_user(user_id="dave", name="데이브")


def token_for(user: User) -> str:
    return str(AccessToken.for_user(user))


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    """An API client authenticated as the given user (anonymous for None)."""

    def client(user: User | None = None) -> APIClient:
        c = APIClient()
        if user is not None:
            c.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return c

    return client


class PushRecorder:
    """Records every push published through messenger.realtime, and still sends it.

    Wrap the action in `with pushes.committed():` so its on-commit pushes run at the end of the
    block, as they would when the real transaction commits.
    """

    def __init__(self, capture) -> None:
        self.sent: list[tuple[list[int], str, dict[str, Any]]] = []
        self._capture = capture

    def committed(self):
        return self._capture(execute=True)

    def of(self, event: str) -> list[tuple[list[int], dict[str, Any]]]:
        return [(users, data) for users, ev, data in self.sent if ev == event]

    def users_of(self, event: str) -> set[int]:
        return {pk for users, _data in self.of(event) for pk in users}


@pytest.fixture
def pushes(monkeypatch, django_capture_on_commit_callbacks) -> PushRecorder:
    recorder = PushRecorder(django_capture_on_commit_callbacks)
    original = realtime.publish_to_users

    def record(user_ids, event, data):
        recorder.sent.append((list(user_ids), event, data))
        original(user_ids, event, data)

    monkeypatch.setattr(realtime, "publish_to_users", record)
    return recorder


def send(user: User, room_id: int, body: str = "hello", **kwargs: Any) -> dict[str, Any]:
    payload, _created = message_services.message_send(
        actor=user, room_id=room_id, msg_id=kwargs.pop("msg_id", uuid.uuid4()), body=body, **kwargs
    )
    return payload


@pytest.fixture
def group(alice, bob, carol):
    """A group room of alice (master), bob and carol."""
    room, _created = message_services.room_create(
        actor=alice, member_ids=[bob.user_id, carol.user_id], name="프로젝트"
    )
    return room


@pytest.fixture
def direct(alice, bob):
    room, _created = message_services.room_open_direct(actor=alice, peer=bob)
    return room


@pytest.fixture(autouse=True)
def no_notification_tasks(request, settings):
    """Outside tests/notifications nothing consumes Celery's Redis queue during tests, so
    sending a message must not leave notification tasks piling up in it."""
    if "notifications" not in request.node.path.parts:
        settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "ENABLED": False}


def forget_rate_limits() -> None:
    """Delete this run's rate-limit counters (only this run's prefix: the Redis database is
    shared with other runs, so never flush it)."""
    from django.conf import settings
    from django.core.cache import cache

    if not settings.REDIS_URL:
        cache.clear()
        return
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    keys = list(client.scan_iter(match=f"{prefix}:*:ratelimit:*", count=1000))
    # Cached session states too: the tables are emptied between tests and session ids reused.
    keys += list(client.scan_iter(match=f"{prefix}:*:login-session:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit windows live in the shared cache and outlast a test (logins: 15 min); every
    test starts with none used, and with no cached session state."""
    forget_rate_limits()


@pytest.fixture(autouse=True)
def default_language_after_each_test():
    """The test client runs a request in the test's thread, and LocaleMiddleware leaves the
    request's language (Accept-Language: ko) active there: the next test starts in the default
    language again (a test of English messages failed after a Korean one, in random order)."""
    yield
    translation.deactivate()
