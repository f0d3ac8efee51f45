"""Run the test OpenID provider (tests/oidc_idp) in a second process on a free 127.0.0.1 port.

The provider is django-oidc-provider in a Django project of its own, on SQLite in a temporary
folder: migrated, given an RSA signing key, the people below and one confidential client for
the messenger. Tests register the messenger's redirect URI (which carries its port) with
`allow_redirect`, and may stop and start the provider (the "provider down" case).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bench.env import free_port
from tests.processes import process_start, process_stop

REPO = Path(__file__).resolve().parents[2]
CLIENT_ID = "messenger-test"
CLIENT_SECRET = "messenger-test-secret-0123456789"
PASSWORD = "idp-pass-4821"
# username -> (display name, employee number): who can sign in at the company's provider.
PEOPLE = {
    "minjun.kim": ("김민준", "E1001"),
    "seoyeon.lee": ("이서연", "E1002"),
    "jiho.park": ("박지호", "E1003"),
    "outsider.han": ("한외부", "E9999"),
}

SETUP = f"""
from django.contrib.auth.models import User
from oidc_provider.models import Client, ResponseType
for username, (name, employee) in {PEOPLE!r}.items():
    user = User.objects.create_user(username, f"{{username}}@example.com", {PASSWORD!r})
    user.first_name, user.last_name = name, employee
    user.save()
client = Client.objects.create(
    name="messenger", client_type="confidential", client_id={CLIENT_ID!r},
    client_secret={CLIENT_SECRET!r}, jwt_alg="RS256", require_consent=False,
    reuse_consent=True, _redirect_uris="",
)
client.response_types.add(ResponseType.objects.get(value="code"))
"""


class OidcProvider:
    """The provider process: `issuer` and `discovery_url` are what the messenger is given."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.url}/openid"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self.log_path = folder / "provider.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.oidc_idp.settings",
            "OIDC_IDP_DIR": str(folder),
            "OIDC_IDP_URL": self.url,
            "PYTHONUNBUFFERED": "1",
        }

    def _django(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=REPO,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def prepare(self) -> None:
        self._django("migrate", "--noinput")
        self._django("creatersakey")
        self._django("shell", "-c", SETUP)

    def allow_redirect(self, uri: str) -> None:
        """Register one more redirect URI of the messenger client (the provider reads the
        client from its database on every request)."""
        with sqlite3.connect(self.folder / "idp.sqlite3") as db:
            (current,) = db.execute(
                "SELECT _redirect_uris FROM oidc_provider_client WHERE client_id = ?",
                (CLIENT_ID,),
            ).fetchone()
            uris = [u for u in current.splitlines() if u]
            if uri not in uris:
                db.execute(
                    "UPDATE oidc_provider_client SET _redirect_uris = ? WHERE client_id = ?",
                    ("\n".join([*uris, uri]), CLIENT_ID),
                )

    def start(self, timeout: float = 30.0) -> None:
        self.process = process_start(
            [sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            env=self.env,
            log_path=self.log_path,
            ready_url=self.discovery_url,
            name="the OpenID provider",
            timeout=timeout,
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        process_stop(process)
