"""HTTP responses that carry stored bytes: downloads, thumbnails and preview images.

Every such response says what it is and forbids guessing (`X-Content-Type-Options: nosniff`,
a sandboxing CSP, a Content-Disposition with the original name in RFC 6266 / RFC 5987 form).
The bytes come from one of three places (MESSENGER_FILES["SERVE"]):
- "django": streamed by the app, with single byte-range requests (206) and If-Range; under
  ASGI through an async iterator, so a large file is never read into memory at once;
- "accel": an empty response with X-Accel-Redirect, nginx serves the file (and the ranges)
  from an internal location;
- "sendfile": the same with X-Sendfile and the file's path (Apache mod_xsendfile, lighttpd).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import IO, Any
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import http_date, parse_http_date_safe

from filetransfer import storage
from filetransfer.errors import RangeNotSatisfiable
from filetransfer.storage import file_storage

logger = logging.getLogger(__name__)

CHUNK = 256 * 1024
_RANGE_RE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")
_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9 ._()\-]")
_RUNS = re.compile(r"_+")
# Longest plain fallback name: what file systems take (romanized Hangul is longer than the name).
FALLBACK_MAX = 255

# Revised Romanization of Korean, letter by letter (no sound changes across syllables): the
# initial, vowel and final of each Hangul syllable (U+AC00 + (initial * 21 + vowel) * 28 + final).
_INITIALS = [
    "g",
    "kk",
    "n",
    "d",
    "tt",
    "r",
    "m",
    "b",
    "pp",
    "s",
    "ss",
    "-",
    "j",
    "jj",
    "ch",
    "k",
    "t",
    "p",
    "h",
]
_VOWELS = [
    "a",
    "ae",
    "ya",
    "yae",
    "eo",
    "e",
    "yeo",
    "ye",
    "o",
    "wa",
    "wae",
    "oe",
    "yo",
    "u",
    "wo",
    "we",
    "wi",
    "yu",
    "eu",
    "ui",
    "i",
]
_FINALS = [
    "",
    *[
        "k",
        "k",
        "k",
        "n",
        "n",
        "n",
        "t",
        "l",
        "k",
        "m",
        "l",
        "l",
        "l",
        "p",
        "l",
        "m",
        "p",
        "p",
        "t",
        "t",
        "ng",
        "t",
        "t",
        "k",
        "t",
        "p",
        "t",
    ],
]


def _romanize(ch: str) -> str | None:
    """A Hangul syllable in Latin letters (회 -> hoe, 록 -> rok), or None for any other."""
    index = ord(ch) - 0xAC00
    if not 0 <= index < 11172:
        return None
    initial, rest = divmod(index, 21 * 28)
    vowel, final = divmod(rest, 28)
    return _INITIALS[initial].strip("-") + _VOWELS[vowel] + _FINALS[final]


def _ascii(text: str) -> str:
    """A plain ASCII look-alike of (part of) a name: Hangul romanized, accents dropped, any other
    letter a "_" (one a run); quotes, backslashes, separators and control characters become "_"
    too, so the quoted header value cannot be broken out of."""
    folded = "".join(
        _romanize(ch)
        or unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
        or "_"
        for ch in text
    )
    return _RUNS.sub("_", _FALLBACK_UNSAFE.sub("_", folded)).strip(" .")


def content_disposition(kind: str, name: str) -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266, RFC 5987):
    old clients read the ASCII fallback, every current one the exact UTF-8 name. The fallback
    keeps the whole name recognisable (회의록.v2.final.pdf -> hoeuirok.v2.final.pdf; an
    unreadable part becomes "_", never dropped) and the extension; only a stem too long for a
    file system is shortened."""
    stem, dot, extension = name.rpartition(".")
    if not (dot and stem):
        stem, extension = name, ""
    suffix = "." + _ascii(extension) if _ascii(extension) else ""
    fallback_stem = _ascii(stem)[: FALLBACK_MAX - len(suffix)].rstrip(" .") or "file"
    fallback = (fallback_stem + suffix)[:FALLBACK_MAX]
    value = f'{kind}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def _protect(response: HttpResponseBase) -> HttpResponseBase:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _byte_range(
    request: HttpRequest, *, size: int, etag: str, modified: datetime
) -> tuple[int, int] | None:
    """The one range (first, last byte) asked for, or None for the whole file.

    Several ranges, a malformed header or a stale If-Range give the whole file, which RFC 9110
    allows; a range that starts past the end is RangeNotSatisfiable (416)."""
    header = request.headers.get("Range", "")
    match = _RANGE_RE.match(header.strip())
    if not match:
        return None
    if_range = request.headers.get("If-Range", "").strip()
    if if_range:
        if if_range.startswith(('"', "W/")):
            if if_range != etag:
                return None
        else:
            since = parse_http_date_safe(if_range)
            if since is None or int(modified.timestamp()) > since:
                return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(f"The file has {size} bytes.", extra={"size": size})
        return max(size - suffix, 0), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        raise RangeNotSatisfiable(f"The file has {size} bytes.", extra={"size": size})
    return first, min(last, size - 1)


def _sync_chunks(handle: IO[bytes], remaining: int) -> Iterator[bytes]:
    try:
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


async def _async_chunks(handle: IO[bytes], remaining: int) -> AsyncIterator[bytes]:
    # Reads run in the thread pool, not the one thread Django keeps for sync views.
    read = sync_to_async(handle.read, thread_sensitive=False)
    try:
        while remaining > 0:
            chunk = await read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()


stored_size = storage.stored_size


def stored_file_response(
    request: HttpRequest,
    *,
    storage_name: str,
    size: int,
    content_type: str,
    disposition: str,
    etag: str,
    modified: datetime,
) -> HttpResponseBase:
    """The response for one stored file, the way MESSENGER_FILES["SERVE"] says to serve it."""
    mode = settings.MESSENGER_FILES["SERVE"]
    headers: dict[str, Any] = {
        "Content-Type": content_type,
        "Content-Disposition": disposition,
        "ETag": etag,
        "Last-Modified": http_date(modified.timestamp()),
        "Accept-Ranges": "bytes",
    }
    # Checked in every mode: nginx and Apache follow links as readily as open() does.
    path = storage.local_path(storage_name)
    if mode == "accel":
        prefix = settings.MESSENGER_FILES["ACCEL_PREFIX"].rstrip("/") + "/"
        # nginx answers ranges itself and says so; a second Accept-Ranges would be noise.
        del headers["Accept-Ranges"]
        response = HttpResponse(headers=headers)
        response["X-Accel-Redirect"] = prefix + quote(storage_name)
        return _protect(response)
    if mode == "sendfile":
        response = HttpResponse(headers=headers)
        response["X-Sendfile"] = path or file_storage().path(storage_name)
        return _protect(response)
    byte_range = _byte_range(request, size=size, etag=etag, modified=modified)
    handle = storage.open_stored(storage_name)
    status = 200
    first, length = 0, size
    if byte_range is not None:
        first, last = byte_range
        length = last - first + 1
        handle.seek(first)
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        handle.close()
        return _protect(HttpResponse(status=status, headers=headers))
    underlying = request._request if hasattr(request, "_request") else request
    body = (
        _async_chunks(handle, length)
        if isinstance(underlying, ASGIRequest)
        else _sync_chunks(handle, length)
    )
    return _protect(StreamingHttpResponse(body, status=status, headers=headers))
