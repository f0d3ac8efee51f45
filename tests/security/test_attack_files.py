"""Path traversal, symbolic links and header injection on file download and upload.

Already proved elsewhere (not repeated here): upload names with ../, absolute paths, backslashes,
NUL and bidi marks never reach the file system
(tests/filetransfer/test_upload.py::test_upload_path_in_the_name_never_reaches_the_file_system),
a Korean name in RFC 5987 form
(tests/filetransfer/test_download.py::test_download_korean_name_is_given_in_rfc_5987_form).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from filetransfer import serving
from filetransfer.models import FileLog
from tests.filetransfer.conftest import only_log, png
from tests.messages.helpers import assert_error

SECRET = b"root:x:0:0:the secret outside the media folder\n"
CONTENT = b"an ordinary attachment\n"


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file outside MEDIA_ROOT (a stand-in for /etc/passwd or settings)."""
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


@pytest.fixture
def shared(upload, alice, group):
    response = upload(alice, group.pk, [("notes.txt", CONTENT)])
    assert response.status_code == 201, response.content
    return response.json()["messages"][0]


def _swap_for_link(stored: Path, target: Path) -> None:
    stored.unlink()
    os.symlink(target, stored)


def _download(client, msg_id: str):
    return client.get(reverse("file", kwargs={"msg_id": msg_id}))


@pytest.mark.parametrize(
    "path",
    [
        "/api/files/../../../../etc/passwd",
        "/api/files/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/files/%2Fetc%2Fpasswd",
        "/api/files/..%5C..%5Cwindows%5Cwin.ini",
        "/api/files/files%2F2026%2F01%2F01%2Fabc",
        "/api/files/%00",
        "/api/files/x%00.png",
        "/api/files/%252e%252e%252fetc%252fpasswd",
        "/api/files/..%c0%af..%c0%afetc%c0%afpasswd",
        "/api/files/../../../../etc/passwd/thumbnail",
        "/api/link-previews/..%2F..%2Fetc%2Fpasswd/image",
        "/api/link-previews/%00/image",
    ],
)
def test_attack_download_path_in_the_id_gives_an_error_never_a_file(api, bob, shared, path):
    response = api(bob).get(path)

    assert response.status_code in (400, 404), (path, response.status_code)
    assert set(response.json()) == {"error"}
    assert b"root:x" not in response.content


def test_attack_download_of_a_stored_file_swapped_for_a_link_outside_is_refused(
    api, bob, shared, media, secret
):
    _swap_for_link(media / only_log(shared["msg_id"]).storage_name, secret)

    response = _download(api(bob), shared["msg_id"])

    error = assert_error(response, 404, "not_found")
    assert "missing from storage" in error["message"]
    assert SECRET not in response.content


def test_attack_download_of_a_file_swapped_for_a_link_to_another_stored_file_is_refused(
    upload, api, alice, bob, dave, group, direct, shared, media
):
    # dave's file lives in a room bob is not in; a link inside the media folder is still a link.
    private = upload(alice, direct.pk, [("private.txt", b"only alice and bob")]).json()
    other = media / only_log(private["messages"][0]["msg_id"]).storage_name
    _swap_for_link(media / only_log(shared["msg_id"]).storage_name, other)

    assert_error(_download(api(bob), shared["msg_id"]), 404, "not_found")


def test_attack_download_through_a_linked_folder_is_refused(api, bob, shared, media, secret):
    stored = media / only_log(shared["msg_id"]).storage_name
    day = stored.parent
    (secret.parent / stored.name).write_bytes(SECRET)
    day.rename(day.with_name(day.name + "-moved"))
    os.symlink(secret.parent, day)

    response = _download(api(bob), shared["msg_id"])

    assert_error(response, 404, "not_found")
    assert SECRET not in response.content


def test_attack_download_media_root_itself_may_be_a_link(settings, api, bob, shared, tmp_path):
    # Deployments often point MEDIA_ROOT at a mounted volume through a link: that is allowed.
    link = tmp_path / "media-link"
    os.symlink(settings.MEDIA_ROOT, link)
    settings.MEDIA_ROOT = link

    response = _download(api(bob), shared["msg_id"])

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == CONTENT


@pytest.mark.parametrize("mode", ["accel", "sendfile"])
def test_attack_link_is_not_handed_to_the_web_server_either(
    settings, api, bob, shared, media, secret, mode
):
    settings.MESSENGER_FILES = {**settings.MESSENGER_FILES, "SERVE": mode}
    _swap_for_link(media / only_log(shared["msg_id"]).storage_name, secret)

    response = _download(api(bob), shared["msg_id"])

    assert_error(response, 404, "not_found")
    assert "X-Accel-Redirect" not in response and "X-Sendfile" not in response


def test_attack_thumbnail_swapped_for_a_link_is_refused(upload, api, alice, bob, group, media):
    sent = upload(alice, group.pk, [("photo.png", png(400, 300))]).json()["messages"][0]
    log = only_log(sent["msg_id"])
    assert log.thumbnail_name
    (media / log.thumbnail_name).unlink()
    os.symlink("/etc/hostname", media / log.thumbnail_name)

    response = api(bob).get(reverse("file-thumbnail", kwargs={"msg_id": sent["msg_id"]}))

    assert_error(response, 404, "not_found")


def test_attack_stored_name_with_dot_dot_in_the_database_is_refused(api, bob, shared, secret):
    # Names are made by the server; one edited in the database must still not leave the folder.
    FileLog.objects.filter(message__msg_id=shared["msg_id"]).update(
        storage_name=f"../{secret.parent.name}/{secret.name}"
    )

    response = _download(api(bob), shared["msg_id"])

    assert_error(response, 404, "not_found")
    assert SECRET not in response.content


@pytest.mark.parametrize(
    "name",
    [
        "report\r\nSet-Cookie: stolen=1.txt",
        'a"; filename="evil.exe',
        "보고서\r\n\r\n<script>alert(1)</script>.pdf",
        "semi;colon, comma\\back.txt",
        "\u2028line\u2029para.txt",
    ],
)
def test_attack_file_name_cannot_break_the_content_disposition_header(api, bob, shared, name):
    # Upload names are cleaned of control characters; a name that still holds them (an old row,
    # an admin edit) is written as one quoted, percent-encoded header all the same.
    FileLog.objects.filter(message__msg_id=shared["msg_id"]).update(original_name=name)

    response = _download(api(bob), shared["msg_id"])

    assert response.status_code == 200
    header = response["Content-Disposition"]
    assert "\r" not in header and "\n" not in header
    assert response.cookies == {} or "stolen" not in response.cookies
    assert header.startswith('attachment; filename="')
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in fallback and ";" not in fallback and "\\" not in fallback
    assert header.count('"') == 2
    assert header.isascii()


def test_attack_content_disposition_round_trips_unicode_names():
    from urllib.parse import unquote

    name = "2024년\u00a0보고서 «최종» 🚀.pdf"
    header = serving.content_disposition("attachment", name)

    assert header.isascii()
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == name
