"""What a file is, from its first bytes: never from its name or the MIME type a client claims.

`sniff` looks at the head of the content (HEAD_BYTES) and names a kind from a fixed table of
signatures. Only where one container holds several document formats (a ZIP or an OLE2 file)
may the name's extension pick the label inside that family: it never changes whether a file is
accepted, only which of the family's MIME types it is served with.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass

HEAD_BYTES = 8192

# Kinds that become `image` messages (when Pillow can decode them) and get a thumbnail.
IMAGE_KINDS = frozenset({"png", "jpeg", "gif", "webp", "bmp"})
# Kinds whose first frame ffmpeg can turn into a poster.
VIDEO_KINDS = frozenset({"mp4", "mov"})
# Every kind sniff() can return, for the refused-types setting and its check.
KINDS = frozenset(
    {
        *IMAGE_KINDS,
        *VIDEO_KINDS,
        "tiff",
        "ico",
        "heic",
        "avif",
        "webm",
        "avi",
        "mp3",
        "m4a",
        "wav",
        "ogg",
        "flac",
        "pdf",
        "rtf",
        "postscript",
        "zip",
        "docx",
        "xlsx",
        "pptx",
        "hwpx",
        "odf",
        "epub",
        "ole2",
        "gzip",
        "bzip2",
        "xz",
        "7z",
        "rar",
        "tar",
        "sqlite",
        "exe",
        "elf",
        "macho",
        "java",
        "html",
        "svg",
        "xml",
        "text",
        "binary",
    }
)


@dataclass(frozen=True)
class Sniffed:
    kind: str
    mime: str

    @property
    def is_image(self) -> bool:
        return self.kind in IMAGE_KINDS

    @property
    def is_video(self) -> bool:
        return self.kind in VIDEO_KINDS


_SIMPLE: list[tuple[int, bytes, str, str]] = [
    # (offset, signature, kind, mime)
    (0, b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (0, b"\xff\xd8\xff", "jpeg", "image/jpeg"),
    (0, b"GIF87a", "gif", "image/gif"),
    (0, b"GIF89a", "gif", "image/gif"),
    (0, b"II*\x00", "tiff", "image/tiff"),
    (0, b"MM\x00*", "tiff", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "ico", "image/vnd.microsoft.icon"),
    (0, b"%PDF-", "pdf", "application/pdf"),
    (0, b"{\\rtf", "rtf", "application/rtf"),
    (0, b"%!PS", "postscript", "application/postscript"),
    (0, b"\x1f\x8b", "gzip", "application/gzip"),
    (0, b"BZh", "bzip2", "application/x-bzip2"),
    (0, b"\xfd7zXZ\x00", "xz", "application/x-xz"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z", "application/x-7z-compressed"),
    (0, b"Rar!\x1a\x07", "rar", "application/vnd.rar"),
    (0, b"SQLite format 3\x00", "sqlite", "application/vnd.sqlite3"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2", "application/x-ole-storage"),
    (0, b"\x1a\x45\xdf\xa3", "webm", "video/webm"),
    (0, b"ID3", "mp3", "audio/mpeg"),
    (0, b"OggS", "ogg", "audio/ogg"),
    (0, b"fLaC", "flac", "audio/flac"),
    (0, b"\x7fELF", "elf", "application/x-executable"),
    (0, b"\xfe\xed\xfa\xce", "macho", "application/x-mach-binary"),
    (0, b"\xfe\xed\xfa\xcf", "macho", "application/x-mach-binary"),
    (0, b"\xce\xfa\xed\xfe", "macho", "application/x-mach-binary"),
    (0, b"\xcf\xfa\xed\xfe", "macho", "application/x-mach-binary"),
    (257, b"ustar", "tar", "application/x-tar"),
]

_OLE2_BY_EXTENSION = {
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "hwp": "application/x-hwp",
    "msg": "application/vnd.ms-outlook",
}

_OOXML = {
    "word/": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xl/": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "ppt/": ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
}

# The WHATWG MIME sniffing standard's list of tags that make a browser treat text as HTML.
_HTML_STARTS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<!--",
)
# Markers that make a page of text an HTML page even when some text comes first (polyglots).
_HTML_ANYWHERE = (b"<html", b"<script", b"<!doctype html", b"<iframe", b"<svg")


def sniff(head: bytes, *, name: str = "") -> Sniffed:
    """The kind and MIME type of content whose first bytes are `head`."""
    for offset, signature, kind, mime in _SIMPLE:
        if head[offset : offset + len(signature)] == signature:
            if kind == "ole2":
                return Sniffed(kind, _OLE2_BY_EXTENSION.get(_extension(name), mime))
            return Sniffed(kind, mime)
    if head[:4] == b"RIFF" and len(head) >= 12:
        riff = head[8:12]
        if riff == b"WEBP":
            return Sniffed("webp", "image/webp")
        if riff == b"WAVE":
            return Sniffed("wav", "audio/wav")
        if riff == b"AVI ":
            return Sniffed("avi", "video/x-msvideo")
    if head[:2] == b"BM" and len(head) >= 26 and head[6:10] == b"\x00\x00\x00\x00":
        return Sniffed("bmp", "image/bmp")
    if head[4:8] == b"ftyp":
        return _iso_media(head)
    if head[:4] == b"\xca\xfe\xba\xbe" and len(head) >= 8:
        # Java class files and universal Mach-O binaries share a signature; the next word is a
        # class-file version (45 or more) or a small count of architectures.
        (word,) = struct.unpack(">I", head[4:8])
        if word >= 45:
            return Sniffed("java", "application/java-vm")
        return Sniffed("macho", "application/x-mach-binary")
    if head[:2] == b"MZ" and _is_pe(head):
        return Sniffed("exe", "application/vnd.microsoft.portable-executable")
    if head[:4] == b"PK\x03\x04":
        return _zip(head, name)
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return Sniffed("mp3", "audio/mpeg")
    return _text_or_binary(head)


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _is_pe(head: bytes) -> bool:
    if len(head) < 64:
        return False
    (offset,) = struct.unpack("<I", head[60:64])
    return head[offset : offset + 4] == b"PE\x00\x00"


def _iso_media(head: bytes) -> Sniffed:
    brand = head[8:12]
    compatible = head[16:64]
    if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
        return Sniffed("heic", "image/heic")
    if brand in (b"avif", b"avis"):
        return Sniffed("avif", "image/avif")
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return Sniffed("m4a", "audio/mp4")
    if brand == b"qt  ":
        return Sniffed("mov", "video/quicktime")
    if b"avif" in compatible:
        return Sniffed("avif", "image/avif")
    return Sniffed("mp4", "video/mp4")


def _zip(head: bytes, name: str) -> Sniffed:
    """Tell the ZIP-based document formats apart by the entries at the start of the archive."""
    names: list[str] = []
    offset = 0
    while head[offset : offset + 4] == b"PK\x03\x04" and len(names) < 16:
        if len(head) < offset + 30:
            break
        flags, method, compressed, name_len, extra_len = struct.unpack(
            "<HHxxxxxxxxIxxxxHH", head[offset + 6 : offset + 30]
        )
        entry = head[offset + 30 : offset + 30 + name_len].decode("utf-8", "replace")
        data_at = offset + 30 + name_len + extra_len
        if entry == "mimetype" and method == 0:
            mimetype = head[data_at : data_at + compressed].decode("ascii", "replace").strip()
            if mimetype == "application/epub+zip":
                return Sniffed("epub", mimetype)
            if mimetype.startswith("application/vnd.oasis.opendocument."):
                return Sniffed("odf", mimetype)
            if mimetype == "application/hwp+zip":
                return Sniffed("hwpx", "application/hwp+zip")
        names.append(entry)
        if flags & 0x08:
            # Sizes follow the data (streamed archive): the next header cannot be found cheaply.
            break
        offset = data_at + compressed
    for entry in names:
        for prefix, (kind, mime) in _OOXML.items():
            if entry.startswith(prefix):
                return Sniffed(kind, mime)
    if "[Content_Types].xml" in names:
        for kind, mime in _OOXML.values():
            if _extension(name) == kind:
                return Sniffed(kind, mime)
    return Sniffed("zip", "application/zip")


def _decode_head(head: bytes) -> str | None:
    """The head as text, or None when it is not text (NUL bytes, or no encoding fits)."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, "ignore")
    if b"\x00" in head:
        return None
    for encoding in ("utf-8", "cp949"):
        try:
            # A multi-byte character cut at the end of the head is still text.
            return codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
    return None


def _text_or_binary(head: bytes) -> Sniffed:
    text = _decode_head(head)
    if text is None:
        return Sniffed("binary", "application/octet-stream")
    if any(ord(ch) < 32 and ch not in "\t\n\r\f\x1b" for ch in text):
        return Sniffed("binary", "application/octet-stream")
    lowered = text.lstrip(" \t\n\r\f").lower().encode("utf-8", "ignore")
    for tag in _HTML_STARTS:
        ends = lowered[len(tag) : len(tag) + 1] in (b" ", b">", b"/", b"\t", b"\n", b"\r")
        if lowered.startswith(tag) and (ends or tag == b"<!--"):
            return Sniffed("html", "text/html")
    if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in lowered):
        return Sniffed("svg", "image/svg+xml")
    window = lowered[:1024]
    if any(marker in window for marker in _HTML_ANYWHERE):
        if b"<svg" in window and b"<html" not in window:
            return Sniffed("svg", "image/svg+xml")
        return Sniffed("html", "text/html")
    if lowered.startswith(b"<?xml"):
        return Sniffed("xml", "application/xml")
    return Sniffed("text", "text/plain")
