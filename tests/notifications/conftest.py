import pytest
from django.conf import settings
from django.core.cache import cache

from messenger.celery import app as celery_app


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _forget_notify_state() -> None:
    """Delete batch windows, focus and presence entries of this run (only this run's prefix:
    the Redis database is shared with other runs, so never flush it)."""
    if not settings.REDIS_URL:
        cache.clear()
        return
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    for kind in ("notify", "focus", "presence"):
        keys = list(client.scan_iter(match=f"{prefix}:*:{kind}:*", count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def clean_notify_state():
    """Batch windows and focus entries live in the shared cache: start each test clean."""
    _forget_notify_state()
    yield
    _forget_notify_state()


@pytest.fixture
def eager():
    """Run queued Celery tasks in-process, as the embedded default does."""
    before = celery_app.conf.get("task_always_eager")
    celery_app.conf.update(task_always_eager=True)
    yield
    celery_app.conf.update(task_always_eager=before)


# Push services are public hosts; this machine resolves no external names, so the test
# world gives a few fixed answers and leaves every other name to the real resolver.
FAKE_DNS = {
    "push.example.com": "93.184.216.34",
    "internal-push.example.com": "10.1.2.3",
    "rebind-push.example.com": "::ffff:127.0.0.1",
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    import socket

    from messenger import netguard

    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in FAKE_DNS:
            address = FAKE_DNS[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(netguard.socket, "getaddrinfo", getaddrinfo)
