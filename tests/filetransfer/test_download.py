"""Downloading files and thumbnails: present members only, exact headers, byte ranges."""

from __future__ import annotations

import uuid
from urllib.parse import unquote

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from django.urls import reverse

from filetransfer.models import FileLog
from messages import services as message_services
from tests.conftest import token_for
from tests.filetransfer.conftest import new_id, only_log, png
from tests.messages.helpers import assert_error

CONTENT = bytes(range(256)) * 40  # 10,240 bytes of binary data


@pytest.fixture
def shared(upload, alice, group):
    """A binary file alice sent to the group (alice, bob, carol)."""
    response = upload(alice, group.pk, [("data.bin", CONTENT)])
    assert response.status_code == 201
    return response.json()["messages"][0]


@pytest.fixture
def photo(upload, alice, group):
    response = upload(alice, group.pk, [("사진.png", png(800, 600))])
    return response.json()["messages"][0]


def _get(client, name: str, msg_id: str, **headers):
    return client.get(reverse(name, kwargs={"msg_id": msg_id}), headers=headers)


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_download_by_a_member_gives_the_bytes_with_safe_headers(api, bob, shared):
    response = _get(api(bob), "file", shared["msg_id"])

    assert response.status_code == 200
    assert _body(response) == CONTENT
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="data.bin"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Length"] == str(len(CONTENT))
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"].startswith('"') and response["Last-Modified"]


def test_download_korean_name_is_given_in_rfc_5987_form(upload, api, alice, bob, group):
    name = "2024년 4분기 보고서 (최종).pdf"
    sent = upload(alice, group.pk, [(name, b"%PDF-1.4\n%%EOF\n")]).json()["messages"][0]

    response = _get(api(bob), "file", sent["msg_id"])

    disposition = response["Content-Disposition"]
    fallback = "2024nyeon 4bungi bogoseo (choejong).pdf"
    assert disposition.startswith(f"attachment; filename=\"{fallback}\"; filename*=UTF-8''")
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == name
    assert response["Content-Type"] == "application/pdf"


def _fallback(disposition: str) -> str:
    """The plain filename="..." of a Content-Disposition (what old clients save the file as)."""
    assert disposition.startswith('attachment; filename="')
    return disposition.split('filename="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        # The stem before the first dot was dropped: "v2.final.pdf".
        ("회의록.v2.final.pdf", "hoeuirok.v2.final.pdf"),
        # All-Korean names were only their extension: "file.pdf", "file".
        ("회의록.pdf", "hoeuirok.pdf"),
        ("닭볶음탕 레시피.hwp", "dakbokeumtang resipi.hwp"),
        ("한글", "hangeul"),
        ("보고서.한글", "bogoseo.hangeul"),
        ("v1.2_최종본_(수정).tar.gz", "v1.2_choejongbon_(sujeong).tar.gz"),
        ("Ünïcödé résumé.txt", "Unicode resume.txt"),
        # Letters with no Latin spelling are one "_" a run, and the name around them stays.
        ("見積書 2024.xlsx", "_ 2024.xlsx"),
        ('say "hi" \\ bye.txt', "say _hi_ _ bye.txt"),
        (".env", "env"),
    ],
)
def test_download_plain_file_name_keeps_a_recognisable_name_and_the_extension(
    api, bob, shared, name, fallback
):
    FileLog.objects.filter(message__msg_id=shared["msg_id"]).update(original_name=name)

    disposition = _get(api(bob), "file", shared["msg_id"])["Content-Disposition"]

    assert _fallback(disposition) == fallback
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == name
    assert disposition.isascii() and disposition.count('"') == 2


def test_download_plain_file_name_of_a_very_long_name_keeps_its_extension(api, bob, shared):
    # 250 syllables romanize to 500 letters: shortened to what file systems take, not cut away.
    name = "가나" * 125 + ".docx"
    FileLog.objects.filter(message__msg_id=shared["msg_id"]).update(original_name=name)

    disposition = _get(api(bob), "file", shared["msg_id"])["Content-Disposition"]

    fallback = _fallback(disposition)
    assert len(fallback) == 255
    assert fallback == ("gana" * 63)[: 255 - len(".docx")] + ".docx"
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == name


def test_thumbnail_by_a_member(api, carol, photo):
    response = _get(api(carol), "file-thumbnail", photo["msg_id"])

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert _body(response)[:3] == b"\xff\xd8\xff"


def test_thumbnail_of_a_file_without_one_is_404(api, bob, shared):
    assert_error(_get(api(bob), "file-thumbnail", shared["msg_id"]), 404, "not_found")


@pytest.mark.parametrize("name", ["file", "file-thumbnail"])
def test_download_refused_for_a_stranger_a_leaver_and_anonymous(api, make_user, carol, photo, name):
    stranger = make_user()
    message_services.room_leave(actor=carol, room_id=photo["room_id"])

    # Answered as an unknown message: the answer does not tell that the file exists.
    unknown = assert_error(_get(api(stranger), name, str(uuid.uuid4())), 404, "not_found")
    assert assert_error(_get(api(stranger), name, photo["msg_id"]), 404) == unknown
    assert assert_error(_get(api(carol), name, photo["msg_id"]), 404) == unknown
    assert_error(_get(api(None), name, photo["msg_id"]), 401)


def test_download_refused_for_a_member_who_joined_after_the_message(api, alice, dave, photo):
    message_services.room_invite(actor=alice, room_id=photo["room_id"], user_ids=["dave"])

    error = assert_error(_get(api(dave), "file", photo["msg_id"]), 404, "not_found")
    assert error == assert_error(_get(api(dave), "file", str(uuid.uuid4())), 404)


def test_download_of_a_talk_message_is_404(api, bob, group):
    from tests.conftest import send

    talk = send(bob, group.pk, "파일 아님")
    assert_error(_get(api(bob), "file", talk["msg_id"]), 404, "not_found")


def test_download_of_a_cancelled_file_is_404(api, alice, bob, shared):
    message_services.message_cancel(actor=alice, msg_id=shared["msg_id"])

    error = assert_error(_get(api(bob), "file", shared["msg_id"]), 404, "not_found")
    assert "cancelled" in error["message"]


@pytest.mark.parametrize(
    ("header", "status", "first", "last"),
    [
        ("bytes=10-19", 206, 10, 19),
        ("bytes=10240-", None, None, None),
        ("bytes=10000-", 206, 10000, 10239),
        ("bytes=-16", 206, 10224, 10239),
        ("bytes=0-999999", 206, 0, 10239),
        ("bytes=0-1,5-6", 200, 0, 10239),
        ("items=0-5", 200, 0, 10239),
        pytest.param("bytes=" + "9" * 5000 + "-", 200, 0, 10239, id="5000-digit-range"),
    ],
)
def test_download_range_requests(api, bob, shared, header, status, first, last):
    response = _get(api(bob), "file", shared["msg_id"], Range=header)

    if status is None:
        error = assert_error(response, 416, "range_not_satisfiable")
        assert "10240 bytes" in error["message"]
        assert response["Content-Range"] == "bytes */10240"
        return
    assert response.status_code == status
    assert _body(response) == CONTENT[first : last + 1]
    assert response["Content-Length"] == str(last - first + 1)
    if status == 206:
        assert response["Content-Range"] == f"bytes {first}-{last}/{len(CONTENT)}"
    else:
        assert "Content-Range" not in response


def test_download_range_with_a_stale_if_range_gives_the_whole_file(api, bob, shared):
    client = api(bob)
    etag = _get(client, "file", shared["msg_id"])["ETag"]

    fresh = _get(client, "file", shared["msg_id"], Range="bytes=0-9", **{"If-Range": etag})
    stale = _get(client, "file", shared["msg_id"], Range="bytes=0-9", **{"If-Range": '"other"'})

    assert fresh.status_code == 206 and _body(fresh) == CONTENT[:10]
    assert stale.status_code == 200 and _body(stale) == CONTENT


def test_download_of_a_file_missing_from_storage_is_a_clear_404(api, bob, shared, media):
    (media / only_log(shared["msg_id"]).storage_name).unlink()

    error = assert_error(_get(api(bob), "file", shared["msg_id"]), 404, "not_found")
    assert "missing from storage" in error["message"]


def test_download_head_gives_headers_only(api, bob, shared):
    response = api(bob).head(reverse("file", kwargs={"msg_id": shared["msg_id"]}))

    assert response.status_code == 200
    assert response["Content-Length"] == str(len(CONTENT))
    assert response.content == b""


def test_download_behind_nginx_hands_over_with_x_accel_redirect(settings, api, bob, shared):
    settings.MESSENGER_FILES = {**settings.MESSENGER_FILES, "SERVE": "accel"}
    log = only_log(shared["msg_id"])

    response = _get(api(bob), "file", shared["msg_id"], Range="bytes=0-9")

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/protected-files/" + log.storage_name
    assert response.content == b""
    assert response["Content-Disposition"] == 'attachment; filename="data.bin"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_download_with_x_sendfile_names_the_stored_path(settings, api, bob, shared, media):
    settings.MESSENGER_FILES = {**settings.MESSENGER_FILES, "SERVE": "sendfile"}
    log = only_log(shared["msg_id"])

    response = _get(api(bob), "file", shared["msg_id"])

    assert response["X-Sendfile"] == str(media / log.storage_name)
    assert response.content == b""


@pytest.mark.django_db(transaction=True)
async def test_download_under_asgi_streams_through_an_async_iterator(settings, tmp_path):
    """Under ASGI a sync iterator would be read into memory whole (Django's fallback): the
    view must hand the server an async one."""
    from filetransfer import services
    from tests.factories import UserFactory

    @sync_to_async
    def scene():
        from django.core.files.uploadedfile import SimpleUploadedFile

        alice = UserFactory(user_id="alice")
        bob = UserFactory(user_id="bob")
        room, _ = message_services.room_open_direct(actor=alice, peer=bob)
        payloads, _created = services.files_upload(
            actor=alice,
            room_id=room.pk,
            files=[SimpleUploadedFile("data.bin", CONTENT)],
            msg_ids=[new_id()],
        )
        return bob, payloads[0]["msg_id"]

    bob, msg_id = await scene()
    headers = {"Authorization": f"Bearer {token_for(bob)}", "Range": "bytes=100-"}

    response = await AsyncClient().get(reverse("file", kwargs={"msg_id": msg_id}), headers=headers)

    assert response.status_code == 206
    assert response.is_async
    body = b"".join([chunk async for chunk in response.streaming_content])
    assert body == CONTENT[100:]
    assert await sync_to_async(FileLog.objects.count)() == 1
