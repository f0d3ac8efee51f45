"""Who may sign in with which password (Django's AUTHENTICATION_BACKENDS, used by
POST /api/auth/token and the admin's login page).

- An HR-synced person signs in with their directory password (LDAP / Active Directory) when
  settings.MESSENGER_LDAP["URI"] is set: django-auth-ldap searches the directory for the entry
  whose USER_ATTR holds the user id, then binds as that entry with the password typed. The
  password is never stored, and the directory creates and changes no account: the HR sync owns
  them (docs/hr-interface.md).
- A manual account (not synced) keeps its local password (Django's ModelBackend); so does every
  account while no directory is configured.

A directory that cannot be asked (down, too slow, refusing the messenger's own search account,
a TLS certificate not trusted) raises DirectoryUnavailable (503): never "wrong password".
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django_auth_ldap.backend import LDAPBackend, ldap_error
from django_auth_ldap.config import LDAPSearch, LDAPSettings

from messenger.errors import DirectoryUnavailable
from orgsync.models import User

logger = logging.getLogger(__name__)


def directory_configured() -> bool:
    return bool(settings.MESSENGER_LDAP["URI"])


def ldap_settings(conf: dict[str, Any]) -> dict[str, Any]:
    """django-auth-ldap's settings (AUTH_LDAP_* without the prefix) for the MESSENGER_LDAP
    variables: search by the user id attribute, bind as the entry found, create and copy
    nothing."""
    timeout = float(conf["TIMEOUT_SECONDS"])
    options: dict[int, Any] = {
        # Active Directory answers searches from the domain root with referrals that libldap
        # would follow anonymously (and fail); the entry we want is in the answer itself.
        ldap.OPT_REFERRALS: 0,
        ldap.OPT_PROTOCOL_VERSION: ldap.VERSION3,
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        ldap.OPT_X_TLS_REQUIRE_CERT: ldap.OPT_X_TLS_DEMAND,
    }
    if conf["CA_FILE"]:
        options[ldap.OPT_X_TLS_CACERTFILE] = conf["CA_FILE"]
    # TLS options of one connection take effect only in a new TLS context, made last.
    options[ldap.OPT_X_TLS_NEWCTX] = 0
    user_filter = f"({conf['USER_ATTR']}=%(user)s)"
    if conf["USER_FILTER"]:
        user_filter = f"(&{user_filter}{conf['USER_FILTER']})"
    return {
        "SERVER_URI": conf["URI"],
        "BIND_DN": conf["BIND_DN"],
        "BIND_PASSWORD": conf["BIND_PASSWORD"],
        "USER_SEARCH": LDAPSearch(
            conf["USER_BASE"], ldap.SCOPE_SUBTREE, user_filter, attrlist=["1.1"]
        ),
        "START_TLS": conf["START_TLS"],
        "CONNECTION_OPTIONS": options,
        # The HR sync owns accounts and their data: no account is created, no attribute copied,
        # no group or permission read from the directory.
        "NO_NEW_USERS": True,
        "ALWAYS_UPDATE_USER": False,
        "USER_ATTR_MAP": {},
        "FIND_GROUP_PERMS": False,
        "MIRROR_GROUPS": None,
        "CACHE_TIMEOUT": 0,
        # An empty password would be an anonymous bind, which directories accept.
        "PERMIT_EMPTY_PASSWORD": False,
    }


class DirectoryPasswordBackend(LDAPBackend):
    """The directory checks the passwords of HR-synced, active people; it answers None (not
    mine) for everyone else, so LocalPasswordBackend checks manual accounts."""

    @property
    def settings(self) -> LDAPSettings:
        if self._settings is None:
            self._settings = LDAPSettings(
                self.settings_prefix, ldap_settings(settings.MESSENGER_LDAP)
            )
        return self._settings

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs
    ) -> User | None:
        user_id = kwargs.get(User.USERNAME_FIELD, username)
        if not directory_configured() or not isinstance(user_id, str) or not password:
            return None
        user = User.objects.filter(user_id=user_id.strip(), is_synced=True).first()
        if user is None or not user.is_active:
            return None
        # The directory is asked for the id as HR spells it, whatever case was typed.
        return super().authenticate(request, username=user.user_id, password=password)

    def get_user(self, user_id: Any) -> User | None:
        """The account of an admin session this backend signed in, while it may still sign in
        (LDAPBackend's own would keep a deactivated account's session)."""
        user = super().get_user(user_id)
        if user is None or not user.is_active:
            return None
        return user

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> User | None:
        try:
            return ldap_user.authenticate(password)
        finally:
            # The connection would otherwise stay open until the garbage collector breaks the
            # cycle between the user and its _LDAPUser: unbind now, one connection per sign-in.
            connection = getattr(ldap_user, "_connection", None)
            if connection is not None:
                with contextlib.suppress(ldap.LDAPError):  # already closed by the server
                    connection.unbind_s()
                ldap_user._connection = None

    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[User, bool]:
        """The synced account the directory entry belongs to; an unknown one comes back
        "built", which NO_NEW_USERS refuses (an account HR has not sent cannot sign in)."""
        user = User.objects.filter(user_id=username, is_synced=True, is_active=True).first()
        if user is None:
            return User(user_id=username), True
        return user, False


# django-auth-ldap reports an LDAPError while searching or binding through this signal and then
# treats the login as refused; an exception raised here propagates instead. A wrong password
# is not an LDAPError here (django-auth-ldap turns INVALID_CREDENTIALS into a refusal first).
CHECK_CONTEXTS = {"authenticate", "search_for_user_dn"}


def _directory_unreachable(sender: Any, context: str, exception: Exception, **kwargs) -> None:
    if context not in CHECK_CONTEXTS:
        return
    info = exception.args[0] if exception.args and isinstance(exception.args[0], dict) else {}
    logger.warning(
        "directory unavailable while %s: %s (%s)",
        context.replace("_", " "),
        type(exception).__name__,
        info.get("desc", ""),
    )
    raise DirectoryUnavailable() from exception


ldap_error.connect(
    _directory_unreachable, sender=DirectoryPasswordBackend, dispatch_uid="directory_unreachable"
)


class LocalPasswordBackend(ModelBackend):
    """Django's password check, for manual accounts; for synced people too while no directory
    is configured (then an admin sets their passwords)."""

    def user_can_authenticate(self, user: Any) -> bool:
        if directory_configured() and getattr(user, "is_synced", False):
            return False
        return super().user_can_authenticate(user)
