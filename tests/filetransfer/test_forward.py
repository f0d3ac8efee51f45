"""Forwarding (flink) a stored file to another room: no copy, access by each room's members."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from filetransfer import services
from filetransfer.models import FileLog
from messages import services as message_services
from tests.conftest import send
from tests.factories import UserFactory
from tests.filetransfer.conftest import new_id, only_log, png, stored_files
from tests.gateway.conftest import clients  # noqa: F401 (fixture)
from tests.messages.helpers import assert_error


@pytest.fixture
def photo(upload, alice, group):
    """A photo alice sent to the group (alice, bob, carol)."""
    response = upload(alice, group.pk, [("회의실.png", png(300, 200))])
    return response.json()["messages"][0]


@pytest.fixture
def other_room(alice, dave):
    """A 1:1 room of alice and dave, who is not in the group."""
    room, _created = message_services.room_open_direct(actor=alice, peer=dave)
    return room


def _forward(api, user, room_id: int, source: str, msg_id: str | None = None):
    return api(user).post(
        reverse("room-forward", kwargs={"room_id": room_id}),
        {"msg_id": msg_id or new_id(), "source_msg_id": source},
        format="json",
    )


def _download(api, user, msg_id: str):
    return api(user).get(reverse("file", kwargs={"msg_id": msg_id}))


def test_forward_shares_the_stored_bytes_and_follows_the_target_room(
    api, alice, bob, dave, photo, other_room, media, pushes
):
    with pushes.committed():
        response = _forward(api, alice, other_room.pk, photo["msg_id"])

    assert response.status_code == 201, response.content
    flink = response.json()
    assert flink["type"] == "flink" and flink["room_id"] == other_room.pk
    assert flink["body"] == "회의실.png"
    assert flink["meta"]["file"] == photo["meta"]["file"]
    original, forward = only_log(photo["msg_id"]), only_log(flink["msg_id"])
    assert forward.source_id == original.pk
    assert forward.storage_name == original.storage_name
    assert forward.expires_at == original.expires_at
    assert len(stored_files(media)) == 2  # the photo and its thumbnail, once
    [(users, pushed)] = pushes.of("message")
    assert set(users) == {alice.pk, dave.pk} and pushed["msg_id"] == flink["msg_id"]
    # dave reads the forward, but not the group's original; bob the other way round.
    assert (
        b"".join(_download(api, dave, flink["msg_id"]).streaming_content)
        == (media / original.storage_name).read_bytes()
    )
    thumbnail = api(dave).get(reverse("file-thumbnail", kwargs={"msg_id": flink["msg_id"]}))
    assert thumbnail.status_code == 200
    assert_error(_download(api, dave, photo["msg_id"]), 404, "not_found")
    assert_error(_download(api, bob, flink["msg_id"]), 404, "not_found")


def test_forward_needs_a_file_the_sender_can_see(
    api, alice, carol, dave, make_user, photo, other_room, group
):
    stranger_room, _ = message_services.room_open_direct(actor=dave, peer=make_user())
    # Whoever may not see the source is answered as for a source that does not exist.
    unknown = assert_error(_forward(api, dave, stranger_room.pk, str(uuid.uuid4())), 404)
    # dave is not in the group.
    assert _forward(api, dave, stranger_room.pk, photo["msg_id"]).json()["error"] == unknown
    # Nor is one who joined after the photo was sent.
    message_services.room_invite(actor=alice, room_id=group.pk, user_ids=["dave"])
    assert _forward(api, dave, other_room.pk, photo["msg_id"]).json()["error"] == unknown
    # Nor one who left.
    message_services.room_leave(actor=carol, room_id=group.pk)
    carol_room, _ = message_services.room_open_direct(actor=carol, peer=dave)
    assert _forward(api, carol, carol_room.pk, photo["msg_id"]).json()["error"] == unknown
    # Nor into a room the sender is not in.
    assert_error(_forward(api, alice, stranger_room.pk, photo["msg_id"]), 404, "not_found")
    assert FileLog.objects.filter(source__isnull=False).count() == 0


def test_forward_retried_with_the_same_msg_id_stores_once(api, alice, photo, other_room):
    msg_id = new_id()

    first = _forward(api, alice, other_room.pk, photo["msg_id"], msg_id)
    again = _forward(api, alice, other_room.pk, photo["msg_id"], msg_id)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["seq"] == first.json()["seq"]
    assert FileLog.objects.filter(source__isnull=False).count() == 1


def test_forward_of_a_forward_points_at_the_original(api, alice, dave, photo, other_room, group):
    first = _forward(api, alice, other_room.pk, photo["msg_id"]).json()

    second = _forward(api, dave, other_room.pk, first["msg_id"]).json()

    assert only_log(second["msg_id"]).source_id == only_log(photo["msg_id"]).pk


@pytest.mark.parametrize(
    ("source", "status", "code"),
    [("@talk", 404, "not_found"), ("@unknown", 404, "not_found"), ("nope", 400, "invalid")],
)
def test_forward_of_something_that_is_no_file(api, alice, group, other_room, source, status, code):
    talk = send(alice, group.pk, "글")
    source = {"@talk": talk["msg_id"], "@unknown": str(uuid.uuid4())}.get(source, source)

    assert_error(_forward(api, alice, other_room.pk, source), status, code)


def test_forward_of_an_expired_file_is_410(api, alice, photo, other_room):
    services.file_logs_expire_now(file_log_ids=[only_log(photo["msg_id"]).pk])

    error = assert_error(_forward(api, alice, other_room.pk, photo["msg_id"]), 410, "expired")
    assert "expired" in error["message"]


@pytest.mark.django_db(transaction=True)
async def test_forward_through_the_socket_send_msg_flink(settings, clients):  # noqa: F811
    @sync_to_async
    def scene():
        alice, bob, _dave = (UserFactory(user_id=u) for u in ("alice", "bob", "dave"))
        group, _ = message_services.room_create(actor=alice, member_ids=["bob", "dave"])
        direct, _ = message_services.room_open_direct(actor=alice, peer=bob)
        payloads, _ = services.files_upload(
            actor=alice,
            room_id=group.pk,
            files=[SimpleUploadedFile("a.png", png())],
            msg_ids=[new_id()],
        )
        return alice, bob, direct, payloads[0]

    alice, bob, direct, photo = await scene()
    a, b = await clients(alice), await clients(bob)
    msg_id = new_id()
    frame = {
        "room_id": direct.pk,
        "msg_id": msg_id,
        "type": "flink",
        "source_msg_id": photo["msg_id"],
    }

    ack = await a.request("send_msg", frame)
    again = await a.request("send_msg", frame)
    refused = await a.request("send_msg", {**frame, "msg_id": new_id(), "source_msg_id": "x"})

    assert ack["ok"] is True, ack
    assert ack["data"]["type"] == "flink" and ack["data"]["msg_id"] == msg_id
    assert again["ok"] and again["data"]["seq"] == ack["data"]["seq"]
    assert refused["ok"] is False and refused["error"]["code"] == "invalid"
    push = await b.push("message")
    assert push["data"]["msg_id"] == msg_id and push["data"]["meta"]["file"]["name"] == "a.png"
    count = await sync_to_async(FileLog.objects.filter(source__isnull=False).count)()
    assert count == 1
