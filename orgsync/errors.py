"""Typed errors of sign-on, sessions and passwords (the shape is messenger.errors')."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from messenger.errors import ApplicationError, NotAllowed


class SessionEnded(ApplicationError):
    status = 401
    code = "session_ended"
    message = _("This device was signed out. Log in again.")


class WrongPassword(ApplicationError):
    code = "wrong_password"
    message = _("The current password is not correct.")


class PasswordNotLocal(NotAllowed):
    code = "password_not_local"
    message = _(
        "This account's password is managed by the company (HR-synced account): "
        "it cannot be changed here."
    )


class RefreshTokenInvalid(ApplicationError):
    status = 401
    code = "token_not_valid"
    message = _("The refresh token is not valid, has expired or was revoked.")
