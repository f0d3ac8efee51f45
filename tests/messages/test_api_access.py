"""Every REST call about a room or a message refuses strangers and members who left (403
not_room_member) and answers 404 for unknown ids, and changes nothing when it refuses.

The table of calls is checked against the URL conf, so a new room or message endpoint must be
added here (and so be shown to check membership) before the suite passes again."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from PIL import Image

from filetransfer import services as file_services
from filetransfer.models import FileLog
from messages import services
from messages.models import Message, MessageReceipt
from rooms.models import Room, RoomMember
from tests.conftest import send
from tests.factories import new_msg_id
from tests.messages.helpers import assert_error

UNKNOWN_ROOM = 10**9

# (URL name, method) -> request body; "@new" becomes a fresh msg_id, "@file" a small file to
# upload (sent as multipart), "@file_msg" the msg_id of the scene's file.
ROOM_CALLS: dict[tuple[str, str], Any] = {
    ("room", "get"): None,
    ("room", "patch"): {"muted": True, "nickname": "엿보기"},
    ("room-invite", "post"): {"user_ids": ["dave"]},
    ("room-leave", "post"): None,
    ("room-messages", "get"): None,
    ("room-messages", "post"): {"msg_id": "@new", "body": "몰래 한 말"},
    ("room-read", "post"): {"seq": 1},
    ("room-files", "post"): {"files": "@file", "msg_ids": "@new"},
    ("room-forward", "post"): {"msg_id": "@new", "source_msg_id": "@file_msg"},
}
MESSAGE_CALLS: dict[tuple[str, str], Any] = {
    ("message-readers", "get"): None,
    ("message", "delete"): None,
    ("message-cancel", "post"): None,
}
# Calls about the scene's file: their msg_id is that of carol's photo.
FILE_CALLS: dict[tuple[str, str], Any] = {
    ("file", "get"): None,
    ("file-thumbnail", "get"): None,
}
# Calls that name a room in their query rather than their path.
QUERY_CALLS: dict[tuple[str, str], dict[str, str]] = {
    ("search", "get"): {"q": "비밀"},
}
ALL_CALLS = [*ROOM_CALLS, *MESSAGE_CALLS, *FILE_CALLS, *QUERY_CALLS]


def _request(client, call: tuple[str, str], *, room_id: int, msg_id: str, file_msg_id: str):
    name, method = call
    if call in ROOM_CALLS:
        url = reverse(name, kwargs={"room_id": room_id})
        body = ROOM_CALLS[call]
    elif call in MESSAGE_CALLS:
        url = reverse(name, kwargs={"msg_id": msg_id})
        body = MESSAGE_CALLS[call]
    elif call in FILE_CALLS:
        url = reverse(name, kwargs={"msg_id": file_msg_id})
        body = FILE_CALLS[call]
    else:
        url = reverse(name)
        return getattr(client, method)(url, {**QUERY_CALLS[call], "room_id": room_id})
    if isinstance(body, dict):
        values = {
            "@new": new_msg_id,
            "@file": lambda: SimpleUploadedFile("memo.txt", b"a note"),
            "@file_msg": lambda: file_msg_id,
        }
        body = {
            k: values[v]() if isinstance(v, str) and v in values else v for k, v in body.items()
        }
        if any(isinstance(v, SimpleUploadedFile) for v in body.values()):
            return getattr(client, method)(url, body, format="multipart")
    return getattr(client, method)(url, body, format="json")


def _world(room: Room) -> tuple:
    """Everything a refused call must leave untouched."""
    room.refresh_from_db()
    members = list(
        RoomMember.objects.filter(room=room)
        .order_by("id")
        .values_list("user_id", "state", "nickname", "muted", "last_read_seq")
    )
    messages = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", "state"))
    return (
        room.name,
        room.master_id,
        room.member_count,
        room.last_seq,
        members,
        messages,
        MessageReceipt.objects.count(),
        FileLog.objects.count(),
    )


@pytest.fixture
def scene(alice, bob, carol, dave, group, settings, tmp_path) -> dict[str, Any]:
    """The group with a secret of carol's in it, and a photo of hers."""
    settings.MEDIA_ROOT = tmp_path / "media"
    secret = send(carol, group.pk, "비밀 이야기")
    send(alice, group.pk, "비밀 답장")
    photo = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(photo, "PNG")
    [file], _created = file_services.files_upload(
        actor=carol,
        room_id=group.pk,
        files=[SimpleUploadedFile("비밀.png", photo.getvalue())],
        msg_ids=[new_msg_id()],
    )
    return {"room": group, "msg_id": secret["msg_id"], "file_msg_id": file["msg_id"]}


@pytest.mark.parametrize("call", ALL_CALLS, ids=lambda c: f"{c[1].upper()} {c[0]}")
def test_api_room_call_by_a_stranger_is_403(api, make_user, scene, call):
    stranger = make_user()
    before = _world(scene["room"])

    response = _request(
        api(stranger),
        call,
        room_id=scene["room"].pk,
        msg_id=scene["msg_id"],
        file_msg_id=scene["file_msg_id"],
    )

    assert_error(response, 403, "not_room_member")
    assert _world(scene["room"]) == before


@pytest.mark.parametrize("call", ALL_CALLS, ids=lambda c: f"{c[1].upper()} {c[0]}")
def test_api_room_call_by_a_member_who_left_is_403(api, carol, scene, call):
    # Carol wrote the secret herself: even as its sender she may not touch it once she left.
    services.room_leave(actor=carol, room_id=scene["room"].pk)
    before = _world(scene["room"])

    response = _request(
        api(carol),
        call,
        room_id=scene["room"].pk,
        msg_id=scene["msg_id"],
        file_msg_id=scene["file_msg_id"],
    )

    assert_error(response, 403, "not_room_member")
    assert _world(scene["room"]) == before


@pytest.mark.parametrize("call", ALL_CALLS, ids=lambda c: f"{c[1].upper()} {c[0]}")
def test_api_room_call_for_an_unknown_id_is_404(api, alice, scene, call):
    before = _world(scene["room"])

    response = _request(
        api(alice),
        call,
        room_id=UNKNOWN_ROOM,
        msg_id=str(uuid.uuid4()),
        file_msg_id=str(uuid.uuid4()),
    )

    assert_error(response, 404, "not_found")
    assert _world(scene["room"]) == before


@pytest.mark.parametrize("call", ALL_CALLS, ids=lambda c: f"{c[1].upper()} {c[0]}")
def test_api_room_call_by_a_member_is_allowed(api, bob, carol, scene, call):
    """The same calls succeed for a member, so the refusals above are about membership."""
    user = carol if call == ("message-cancel", "post") else bob
    response = _request(
        api(user),
        call,
        room_id=scene["room"].pk,
        msg_id=scene["msg_id"],
        file_msg_id=scene["file_msg_id"],
    )
    assert response.status_code in (200, 201, 204), response.content


def _api_routes() -> list[tuple[str, str, list[str]]]:
    """(URL name, route, methods) of every view under /api/."""
    found = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                view = getattr(pattern.callback, "cls", None)
                methods = (
                    [m for m in view.http_method_names if m not in ("options", "head")]
                    if view is not None
                    else ["get", "post"]
                )
                if view is not None:
                    methods = [m for m in methods if hasattr(view, m)]
                found.append((pattern.name, route, methods))

    walk(get_resolver().url_patterns, "")
    return [r for r in found if r[1].startswith("api/")]


def test_api_every_room_and_message_call_is_in_the_membership_table():
    covered = set(ALL_CALLS)
    about_rooms = [
        (name, method)
        for name, route, methods in _api_routes()
        if "room_id" in route or "msg_id" in route
        for method in methods
    ]
    assert about_rooms, "the URL conf has no room or message routes?"
    missing = [call for call in about_rooms if call not in covered]
    assert missing == [], f"add these calls to the membership table: {missing}"
