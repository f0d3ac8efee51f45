import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The people of these tests log in by token; hashing their passwords need not be slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
