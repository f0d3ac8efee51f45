"""Fixtures of the security tests: the scene of tests.security.scene, for REST (one test
transaction) and for sockets (committed, built in a thread). The attack tests reuse the file
transfer fixtures (media in a temporary folder, hostile multipart bodies) and the link preview
test site."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.filetransfer.conftest import fast_password_hashing, media, upload  # noqa: F401
from tests.filetransfer.test_linkpreview import connections, eager, previews, site  # noqa: F401
from tests.security.scene import Scene, build_scene

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def scene_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = FAST_HASHER
    # Debug lets a test browser register an http://127.0.0.1 push endpoint, and makes a VAPID key.
    settings.DEBUG = True
    settings.NOTIFICATIONS = settings.NOTIFICATIONS | {
        "VAPID_PRIVATE_KEY": "",
        "VAPID_PUBLIC_KEY": "",
        "VAPID_KEY_FILE": tmp_path / "vapid.pem",
    }
    return settings


@pytest.fixture
def scene(db, scene_settings) -> Scene:
    return build_scene()


@pytest.fixture
def ws_scene(scene_settings):
    """Build the scene from an async test: `scene = await ws_scene()`."""
    return sync_to_async(build_scene)
