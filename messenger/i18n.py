"""The language of a person's answers: Korean or English (settings.LANGUAGES).

REST requests get theirs from Django's LocaleMiddleware (the client sends its language as
Accept-Language); a socket takes it once at connect from its `lang` query parameter or the
handshake's Accept-Language header, and renders its error acks in it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_noop
from django.utils.translation.trans_real import parse_accept_lang_header


def language_supported(code: str) -> str | None:
    """The supported language for a code such as "ko-KR" or "en", or None."""
    try:
        return translation.get_supported_language_variant(code.strip().lower())
    except LookupError:
        return None


def language_choose(*, wanted: str = "", accept_language: str = "") -> str:
    """The language asked for (a code), else the first supported one of an Accept-Language
    header, else the site's default."""
    candidates: Iterable[str] = [wanted] if wanted else []
    if accept_language and len(accept_language) <= 255:
        candidates = [
            *candidates,
            *(code for code, _q in parse_accept_lang_header(accept_language)),
        ]
    for code in candidates:
        if code and code != "*" and len(code) <= 35:
            found = language_supported(code)
            if found:
                return found
    return translation.get_supported_language_variant(settings.LANGUAGE_CODE)


# Messages of simplejwt and DRF that reach people (a wrong password, an expired login): their
# own Korean catalogues are missing (DRF) or under ko_KR, which Django's "ko" does not read, so
# the project's catalogue carries them. Listed here so that makemessages keeps them.
THIRD_PARTY_MESSAGES = (
    gettext_noop("No active account found with the given credentials"),
    gettext_noop("No active account found for the given token."),
    gettext_noop("Authentication credentials were not provided."),
    gettext_noop("Incorrect authentication credentials."),
    gettext_noop("Authorization header must contain two space-delimited values"),
    gettext_noop("Given token not valid for any token type"),
    gettext_noop("Token contained no recognizable user identification"),
    gettext_noop("Token is invalid or expired"),
    gettext_noop("Token is invalid"),
    gettext_noop("Token is expired"),
    gettext_noop("Token is blacklisted"),
    gettext_noop("Token has wrong type"),
    gettext_noop("User is inactive"),
    gettext_noop("User not found"),
    gettext_noop("The user's password has been changed."),
    gettext_noop("You do not have permission to perform this action."),
    gettext_noop("Invalid input."),
    gettext_noop("Malformed request."),
    gettext_noop("A server error occurred."),
    gettext_noop('Method "{method}" not allowed.'),
    gettext_noop('Unsupported media type "{media_type}" in request.'),
    gettext_noop("Request was throttled."),
    gettext_noop("This field is required."),
    gettext_noop("This field may not be blank."),
    gettext_noop("This field may not be null."),
    gettext_noop("Not a valid string."),
    gettext_noop("A valid integer is required."),
)
