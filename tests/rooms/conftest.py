import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every factory user gets a password: hash it cheaply, so a test costs milliseconds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
