"""Uploading files into a room: one message per file, checked whole before anything is stored."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from filetransfer import services
from filetransfer.models import FileLog
from messages.models import Message
from orgsync.services import users_set_active
from tests.conftest import send
from tests.filetransfer.conftest import (
    HAS_FFMPEG,
    bomb_png,
    gif_two_frames,
    jpeg_rotated,
    mp4,
    new_id,
    only_log,
    png,
    stored_files,
)
from tests.messages.helpers import assert_error

STORED_NAME = re.compile(r"^files/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}(\.thumb\.(jpg|png))?$")
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"


def _thumbnail(log: FileLog, media) -> Image.Image:
    return Image.open(media / log.thumbnail_name)


def test_upload_image_stores_message_thumbnail_and_pushes(
    api, upload, alice, bob, carol, group, pushes, media
):
    content = png(64, 48)
    msg_id = new_id()

    with pushes.committed():
        response = upload(alice, group.pk, [("사진.png", content)], msg_ids=[msg_id])

    assert response.status_code == 201, response.content
    [message] = response.json()["messages"]
    assert message["msg_id"] == msg_id
    assert message["type"] == "image"
    assert message["body"] == "사진.png"
    file = message["meta"]["file"]
    assert file["name"] == "사진.png"
    assert file["size"] == len(content)
    assert file["mime"] == "image/png"
    assert file["kind"] == "image"
    assert (file["width"], file["height"]) == (64, 48)
    assert file["thumbnail"] is True
    log = only_log(msg_id)
    assert log.state == FileLog.State.STORED
    assert log.original_name == "사진.png"
    expires = log.expires_at - timezone.now()
    assert 29.9 < expires.total_seconds() / 86400 <= 30
    assert STORED_NAME.match(log.storage_name) and STORED_NAME.match(log.thumbnail_name)
    assert (media / log.storage_name).read_bytes() == content
    assert stored_files(media) == sorted(
        [
            media.joinpath(log.storage_name).relative_to(media),
            media.joinpath(log.thumbnail_name).relative_to(media),
        ]
    )
    [(users, pushed)] = pushes.of("message")
    assert set(users) == {alice.pk, bob.pk, carol.pk}
    assert pushed["msg_id"] == msg_id and pushed["meta"]["file"]["name"] == "사진.png"
    group.refresh_from_db()
    assert group.last_msg_type == "image" and group.last_msg_body == "사진.png"


def test_upload_several_files_become_messages_in_their_order(upload, alice, group, media):
    files = [("a.png", png()), ("보고서.pdf", PDF), ("메모.txt", "안녕하세요\n".encode())]

    response = upload(alice, group.pk, files)

    assert response.status_code == 201
    messages = response.json()["messages"]
    assert [m["body"] for m in messages] == ["a.png", "보고서.pdf", "메모.txt"]
    assert [m["type"] for m in messages] == ["image", "file", "file"]
    assert [m["meta"]["file"]["mime"] for m in messages] == [
        "image/png",
        "application/pdf",
        "text/plain",
    ]
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    assert FileLog.objects.filter(state="stored").count() == 3


def test_upload_ten_files_reach_every_member_and_nobody_else(
    api, upload, alice, bob, carol, dave, group, pushes
):
    files = [(f"사진{i}.png", png(100 + i, 80)) for i in range(10)]

    with pushes.committed():
        response = upload(alice, group.pk, files)

    assert response.status_code == 201
    sent = response.json()["messages"]
    assert [m["body"] for m in sent] == [name for name, _ in files]
    assert len(pushes.of("message")) == 10
    assert pushes.users_of("message") == {alice.pk, bob.pk, carol.pk}
    for message in sent:
        url = reverse("file-thumbnail", kwargs={"msg_id": message["msg_id"]})
        assert api(carol).get(url).status_code == 200
        assert_error(api(dave).get(url), 404, "not_found")


def test_upload_retried_with_the_same_msg_ids_stores_once(upload, alice, group, media):
    files = [("a.png", png()), ("b.pdf", PDF)]
    ids = [new_id(), new_id()]

    first = upload(alice, group.pk, files, msg_ids=ids)
    again = upload(alice, group.pk, files, msg_ids=ids)

    assert first.status_code == 201 and again.status_code == 200
    assert [m["seq"] for m in again.json()["messages"]] == [
        m["seq"] for m in first.json()["messages"]
    ]
    assert FileLog.objects.count() == 2
    assert Message.objects.filter(msg_id__in=ids).count() == 2
    assert len(stored_files(media)) == 3  # two files and one thumbnail


def test_upload_msg_id_of_another_message_is_409(upload, alice, bob, group, media):
    taken = send(bob, group.pk, "먼저 쓴 말")["msg_id"]

    response = upload(alice, group.pk, [("a.png", png())], msg_ids=[taken])

    assert_error(response, 409, "conflict")
    assert FileLog.objects.count() == 0 and stored_files(media) == []


@pytest.mark.parametrize(
    ("msg_ids", "message"),
    [([], "one msg_id per file"), (["not-a-uuid"], "UUID"), (["@same", "@same"], "own msg_id")],
)
def test_upload_with_bad_msg_ids_is_400(upload, alice, group, media, msg_ids, message):
    same = new_id()
    ids = [same if m == "@same" else m for m in msg_ids]
    files = [("a.png", png()), ("b.png", png())][: max(len(ids), 1)]

    response = upload(alice, group.pk, files, msg_ids=ids)

    error = assert_error(response, 400, "invalid")
    assert message in error["message"]
    assert FileLog.objects.count() == 0 and stored_files(media) == []


@pytest.mark.parametrize(
    ("name", "content", "label"),
    [
        (
            "photo.png",
            b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
            "HTML",
        ),
        ("photo.png", b"\n\n  <html><script>alert(document.cookie)</script>", "HTML"),
        (
            "cat.jpg",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
            "SVG",
        ),
        (
            "notes.txt",
            b"MZ" + b"\x00" * 58 + b"\x40\x00\x00\x00" + b"PE\x00\x00" + b"\x00" * 64,
            "Windows program",
        ),
    ],
)
def test_upload_refused_type_is_415_and_stores_nothing(
    upload, alice, group, media, name, content, label
):
    before = Message.objects.count()

    response = upload(
        alice, group.pk, [("ok.png", png()), (name, content)], content_type="image/png"
    )

    error = assert_error(response, 415, "unsupported_type")
    assert label in error["message"] and name in error["message"]
    assert Message.objects.count() == before
    assert FileLog.objects.count() == 0 and stored_files(media) == []


def test_upload_oversize_file_is_413_and_stores_nothing(settings, upload, alice, group, media):
    settings.MESSENGER_FILES = {**settings.MESSENGER_FILES, "MAX_BYTES": 2000}

    response = upload(alice, group.pk, [("small.txt", b"x" * 10), ("big.bin", b"\x01" * 2001)])

    error = assert_error(response, 413, "too_large")
    assert "big.bin" in error["message"] and "1.95 KB" in error["message"]
    assert FileLog.objects.count() == 0 and stored_files(media) == []


def test_upload_request_over_every_limit_is_413_before_it_is_read(settings, upload, alice, group):
    settings.MESSENGER_FILES = {**settings.MESSENGER_FILES, "MAX_BYTES": 1000, "MAX_PER_REQUEST": 2}

    response = upload(alice, group.pk, [("huge.bin", b"\x01" * (3 * 1024 * 1024))])

    error = assert_error(response, 413, "too_large")
    assert "at most 2 files" in error["message"]


def test_upload_too_many_files_is_413(settings, upload, alice, group, media):
    settings.MESSENGER_FILES = {**settings.MESSENGER_FILES, "MAX_PER_REQUEST": 2}

    response = upload(alice, group.pk, [(f"{i}.txt", b"text") for i in range(3)])

    error = assert_error(response, 413, "too_many_files")
    assert "at most 2 files" in error["message"]
    assert FileLog.objects.count() == 0 and stored_files(media) == []


def test_upload_over_the_quota_is_413(settings, upload, alice, bob, group, media):
    settings.MESSENGER_FILES = {**settings.MESSENGER_FILES, "QUOTA_BYTES": 5000}
    assert upload(alice, group.pk, [("a.bin", b"\x01" * 3000)]).status_code == 201
    # Another person's files do not count against alice.
    assert upload(bob, group.pk, [("b.bin", b"\x01" * 4000)]).status_code == 201

    response = upload(alice, group.pk, [("c.bin", b"\x01" * 2500)])

    error = assert_error(response, 413, "quota_exceeded")
    assert "quota" in error["message"]
    assert FileLog.objects.count() == 2


def test_upload_expired_files_no_longer_count_against_the_quota(settings, upload, alice, group):
    settings.MESSENGER_FILES = {**settings.MESSENGER_FILES, "QUOTA_BYTES": 5000}
    first = upload(alice, group.pk, [("a.bin", b"\x01" * 3000)]).json()["messages"][0]
    FileLog.objects.filter(message__msg_id=first["msg_id"]).update(expires_at=timezone.now())
    services.files_expire()

    assert upload(alice, group.pk, [("c.bin", b"\x01" * 2500)]).status_code == 201


@pytest.mark.parametrize(
    ("width", "height"),
    # Past Pillow's own bomb limit, and past ours (64 MP) but under Pillow's.
    [(50_000, 50_000), (10_000, 8_000)],
)
def test_upload_decompression_bomb_is_refused(upload, alice, group, media, width, height):
    bomb = bomb_png(width, height)
    assert len(bomb) < 5 * 1024 * 1024

    response = upload(alice, group.pk, [("bomb.png", bomb)])

    error = assert_error(response, 413, "image_too_large")
    assert "pixels" in error["message"]
    assert FileLog.objects.count() == 0 and stored_files(media) == []


@pytest.mark.parametrize(
    ("raw_name", "shown"),
    [
        (b"../../settings.py", "settings.py"),
        (b"../../../../../../etc/passwd", "passwd"),
        (b"/etc/cron.d/evil", "evil"),
        (b"..\\..\\windows\\win.ini", "win.ini"),
        (b"C:\\temp\\report.txt", "report.txt"),
        (b"evil\x00.png", "evil.png"),
        (b"&#46;&#46;&#47;&#46;&#46;&#47;manage.py", "manage.py"),
        ("\u202egnp.exe".encode(), "gnp.exe"),
    ],
)
def test_upload_path_in_the_name_never_reaches_the_file_system(
    upload, alice, group, media, tmp_path, raw_name, shown
):
    outside_before = sorted(p for p in tmp_path.rglob("*") if media not in p.parents)

    response = upload(alice, group.pk, [(raw_name, b"plain text, not a program\n")])

    assert response.status_code == 201, response.content
    [message] = response.json()["messages"]
    assert message["body"] == shown
    log = only_log(message["msg_id"])
    assert log.original_name == shown
    assert STORED_NAME.match(log.storage_name)
    assert [str(p) for p in stored_files(media)] == [log.storage_name]
    assert sorted(p for p in tmp_path.rglob("*") if media not in p.parents) == outside_before


def test_upload_name_that_is_only_a_path_is_refused(upload, alice, group, media):
    response = upload(alice, group.pk, [(b"../", b"data")])

    assert_error(response, 400, "invalid")
    assert stored_files(media) == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\u1107\u1169\u1100\u1169\u1109\u1165.pdf", "보고서.pdf"),  # macOS sends NFD
        ("  quarterly   report .xlsx  ", "quarterly report .xlsx"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("a\u200bb.txt", "ab.txt"),
        ("...", "file"),
        ("", "file"),
        ("가" * 300 + ".docx", "가" * 195 + ".docx"),
    ],
)
def test_clean_file_name(raw, clean):
    assert services.clean_file_name(raw) == clean


def test_upload_jpeg_thumbnail_is_upright_and_without_metadata(upload, alice, group, media):
    content = jpeg_rotated(80, 40)
    assert Image.open(io.BytesIO(content)).getexif()[0x010F] == "TestCam"

    response = upload(alice, group.pk, [("IMG_0001.JPG", content)])

    [message] = response.json()["messages"]
    assert (message["meta"]["file"]["width"], message["meta"]["file"]["height"]) == (40, 80)
    thumb = _thumbnail(only_log(message["msg_id"]), media)
    assert thumb.format == "JPEG"
    assert thumb.height > thumb.width
    assert not thumb.getexif() and "exif" not in thumb.info and "icc_profile" not in thumb.info
    # The left (red) half of the sensor image is the top once turned upright.
    red, _green, blue = thumb.convert("RGB").getpixel((thumb.width // 2, thumb.height // 4))
    assert red > 200 and blue < 60
    red, _green, blue = thumb.convert("RGB").getpixel((thumb.width // 2, 3 * thumb.height // 4))
    assert blue > 200 and red < 60
    # The original is kept byte for byte.
    assert (media / only_log(message["msg_id"]).storage_name).read_bytes() == content


def test_upload_animated_gif_thumbnail_is_its_first_frame(upload, alice, group, media):
    response = upload(alice, group.pk, [("anim.gif", gif_two_frames())])

    [message] = response.json()["messages"]
    assert message["type"] == "image" and message["meta"]["file"]["mime"] == "image/gif"
    thumb = _thumbnail(only_log(message["msg_id"]), media).convert("RGB")
    red, _green, blue = thumb.getpixel((10, 10))
    assert red > 200 and blue < 60


def test_upload_transparent_png_keeps_a_transparent_thumbnail(upload, alice, group, media):
    response = upload(alice, group.pk, [("logo.png", png(600, 300, (0, 128, 0, 0), "RGBA"))])

    [message] = response.json()["messages"]
    thumb = _thumbnail(only_log(message["msg_id"]), media)
    assert thumb.format == "PNG" and thumb.mode == "RGBA"
    assert thumb.size == (480, 240)
    assert thumb.getpixel((5, 5))[3] == 0


def test_upload_undecodable_image_is_kept_as_a_plain_file(upload, alice, group, media):
    broken = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200

    response = upload(alice, group.pk, [("broken.png", broken)])

    [message] = response.json()["messages"]
    assert message["type"] == "file"
    assert message["meta"]["file"]["mime"] == "application/octet-stream"
    assert message["meta"]["file"]["thumbnail"] is False
    assert only_log(message["msg_id"]).thumbnail_name == ""


@pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg is not installed")
def test_upload_mp4_gets_a_poster_frame_from_ffmpeg(upload, alice, group, media, tmp_path):
    response = upload(alice, group.pk, [("clip.mp4", mp4(tmp_path))])

    [message] = response.json()["messages"]
    file = message["meta"]["file"]
    assert message["type"] == "file"
    assert (file["mime"], file["kind"], file["thumbnail"]) == ("video/mp4", "video", True)
    assert (file["width"], file["height"]) == (160, 120)
    assert _thumbnail(only_log(message["msg_id"]), media).size == (160, 120)


def test_upload_mp4_without_ffmpeg_is_a_plain_file_card(settings, upload, alice, group, media):
    settings.MESSENGER_FILES = {**settings.MESSENGER_FILES, "FFMPEG": ""}
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64

    response = upload(alice, group.pk, [("clip.mp4", video)])

    [message] = response.json()["messages"]
    file = message["meta"]["file"]
    assert (message["type"], file["mime"], file["kind"]) == ("file", "video/mp4", "video")
    assert file["thumbnail"] is False and file["width"] is None


def test_upload_failure_while_storing_leaves_nothing_behind(monkeypatch, alice, group, media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from filetransfer import storage

    real_save = storage.save_exactly
    calls = []

    def disk_full_on_third_write(name, content):
        calls.append(name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_save(name, content)

    monkeypatch.setattr(storage, "save_exactly", disk_full_on_third_write)
    before = Message.objects.count()

    with pytest.raises(OSError, match="No space left"):
        services.files_upload(
            actor=alice,
            room_id=group.pk,
            files=[SimpleUploadedFile("a.png", png()), SimpleUploadedFile("b.pdf", PDF)],
            msg_ids=[new_id(), new_id()],
        )

    assert len(calls) == 3
    assert stored_files(media) == []
    assert FileLog.objects.count() == 0
    assert Message.objects.count() == before


def test_upload_by_a_stranger_a_leaver_or_anonymous_is_refused(
    api, upload, make_user, alice, carol, group, media
):
    from messages import services as message_services

    stranger = make_user()
    message_services.room_leave(actor=carol, room_id=group.pk)

    assert_error(upload(stranger, group.pk, [("a.png", png())]), 404, "not_found")
    assert_error(upload(carol, group.pk, [("a.png", png())]), 404, "not_found")
    assert_error(upload(None, group.pk, [("a.png", png())]), 401)
    assert FileLog.objects.count() == 0 and stored_files(media) == []


def test_upload_to_a_one_on_one_room_whose_peer_is_deactivated_is_409(
    upload, make_user, alice, bob, direct, media
):
    admin = make_user(user_id="it.admin", is_staff=True, is_superuser=True)
    users_set_active(actor=admin, user_pks=[bob.pk], active=False)

    response = upload(alice, direct.pk, [("a.png", png())])

    assert_error(response, 409, "peer_deactivated")
    assert FileLog.objects.count() == 0 and stored_files(media) == []
    assert not Message.objects.filter(room=direct).exists()
