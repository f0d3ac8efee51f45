"""REST authentication: simplejwt's access token, refused once its session has ended."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's JWTAuthentication (signature, lifetime, active account, the password's
    stamp), then the token's session (`sid`): a device signed out is refused at once with
    401 `session_ended`. The check is a cache read; orgsync.sessions.session_is_live."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        found = super().authenticate(request)
        if found is None:
            return None
        user, token = found
        # Imported here: DRF loads this class while messenger.errors (which the session code
        # imports) is still importing rest_framework.views.
        from orgsync import sessions
        from orgsync.errors import SessionEnded

        sid = sessions.claimed_sid(token)
        if sid is not None and not sessions.session_is_live(sid=sid, user_pk=user.pk):
            raise AuthenticationFailed(SessionEnded.message, code=SessionEnded.code)
        return user, token
