"""A real OpenID provider for the tests: a tiny Django project of its own (django-oidc-provider,
SQLite in a temp dir) that server.py runs in a second process on a free 127.0.0.1 port."""
