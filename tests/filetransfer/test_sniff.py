"""Deciding what a file is from its first bytes, never from its name."""

from __future__ import annotations

import io
import zipfile

import pytest

from filetransfer.sniff import sniff
from tests.filetransfer.conftest import gif_two_frames, jpeg_rotated, png


def _zip(first_entry: str, data: bytes = b"x", *, stored: bool = False) -> bytes:
    out = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(out, "w", method) as archive:
        archive.writestr(first_entry, data)
        archive.writestr("other.xml", b"<x/>")
    return out.getvalue()


OOXML_DOCX = _zip("[Content_Types].xml", b"<Types/>")
HWPX = _zip("mimetype", b"application/hwp+zip", stored=True)
PE = b"MZ" + b"\x90" * 58 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" + b"\x00" * 32


@pytest.mark.parametrize(
    ("head", "name", "kind", "mime"),
    [
        (png(), "x.jpg", "png", "image/png"),
        (jpeg_rotated(), "x.png", "jpeg", "image/jpeg"),
        (gif_two_frames(), "", "gif", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "", "webp", "image/webp"),
        (b"%PDF-1.7\n", "doc.txt", "pdf", "application/pdf"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "", "mp4", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "", "mov", "video/quicktime"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "", "heic", "image/heic"),
        (
            _zip("word/document.xml"),
            "x.zip",
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            OOXML_DOCX,
            "보고서.xlsx",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (HWPX, "", "hwpx", "application/hwp+zip"),
        (_zip("readme.txt"), "x.docx", "zip", "application/zip"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 8,
            "계약서.hwp",
            "ole2",
            "application/x-hwp",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 8,
            "x.bin",
            "ole2",
            "application/x-ole-storage",
        ),
        (PE, "setup.txt", "exe", "application/vnd.microsoft.portable-executable"),
        (b"MZ is a text that starts like a program\n", "", "text", "text/plain"),
        (b"\x7fELF\x02\x01\x01", "a.png", "elf", "application/x-executable"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x34", "", "java", "application/java-vm"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02", "", "macho", "application/x-mach-binary"),
        (b"<!DOCTYPE html><p>hi", "a.png", "html", "text/html"),
        (b"\xef\xbb\xbf  <HTML><body>", "", "html", "text/html"),
        (b"\xff\xfe" + "<html>".encode("utf-16-le"), "", "html", "text/html"),
        (b"<!-- comment -->", "", "html", "text/html"),
        (b"garbage first\n<script>alert(1)</script>", "x.txt", "html", "text/html"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "", "svg", "image/svg+xml"),
        (b'<?xml version="1.0"?>\n<svg/>', "", "svg", "image/svg+xml"),
        (b'<?xml version="1.0"?>\n<config/>', "", "xml", "application/xml"),
        (b"<a-tag-like-text> is not html", "", "text", "text/plain"),
        ("안녕하세요, 파일입니다.\n".encode(), "", "text", "text/plain"),
        ("안녕하세요".encode("cp949"), "", "text", "text/plain"),
        ("한글".encode()[:-1], "", "text", "text/plain"),
        (b"\x00\x01\x02\x03binary", "x.txt", "binary", "application/octet-stream"),
        (b"", "", "text", "text/plain"),
    ],
)
def test_sniff(head, name, kind, mime):
    found = sniff(head[:8192], name=name)
    assert (found.kind, found.mime) == (kind, mime)
