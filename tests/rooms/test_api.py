"""REST of rooms: list, create, details, rename, mute, invite, leave."""

from __future__ import annotations

import pytest

from messages.models import Message
from rooms.models import Room, RoomMember, RoomMemberSet
from tests.conftest import send
from tests.messages.helpers import assert_error


def my_rooms(api, user) -> list[dict]:
    response = api(user).get("/api/rooms")
    assert response.status_code == 200
    return response.json()["rooms"]


# --- GET /api/rooms ---------------------------------------------------------------------------


def test_rooms_list_newest_activity_first_with_last_message_and_unread(
    api, alice, bob, carol, group, direct
):
    send(bob, group.pk, "그룹에서")
    send(bob, direct.pk, "둘이서 1")
    send(bob, direct.pk, "둘이서 2")

    rooms = my_rooms(api, alice)

    assert [r["room_id"] for r in rooms] == [direct.pk, group.pk]
    first, second = rooms
    assert first["kind"] == "direct"
    assert first["name"] == "밥"
    assert first["unread"] == 2
    assert first["last_seq"] == 2
    assert first["last_message"]["body"] == "둘이서 2"
    assert first["last_message"]["sender"] == "bob"
    assert second["name"] == "프로젝트"
    assert second["unread"] == 1
    assert second["last_message"]["body"] == "그룹에서"
    assert [r["room_id"] for r in my_rooms(api, carol)] == [group.pk]


# --- POST /api/rooms --------------------------------------------------------------------------


def test_rooms_create_direct_new_is_201_existing_is_200(api, alice, bob):
    created = api(alice).post("/api/rooms", {"member_ids": ["bob"]}, format="json")
    again = api(alice).post("/api/rooms", {"member_ids": ["bob"]}, format="json")
    reverse = api(bob).post("/api/rooms", {"member_ids": ["alice"]}, format="json")

    assert created.status_code == 201
    assert again.status_code == 200
    assert reverse.status_code == 200
    assert created.json()["room_id"] == again.json()["room_id"] == reverse.json()["room_id"]
    assert created.json()["kind"] == "direct"
    assert reverse.json()["name"] == "앨리스"
    assert Room.objects.count() == 1


def test_rooms_create_with_oneself(api, alice):
    created = api(alice).post("/api/rooms", {"member_ids": ["alice"]}, format="json")
    again = api(alice).post("/api/rooms", {"member_ids": []}, format="json")
    assert created.status_code == 201
    assert again.status_code == 200
    assert created.json()["room_id"] == again.json()["room_id"]
    assert created.json()["member_count"] == 1


def test_rooms_create_group_then_the_same_members_reuse_it(api, alice, bob, carol):
    created = api(alice).post(
        "/api/rooms", {"member_ids": ["bob", "carol"], "name": "점심 모임"}, format="json"
    )
    reused = api(carol).post("/api/rooms", {"member_ids": ["alice", "bob"]}, format="json")

    assert created.status_code == 201
    body = created.json()
    assert body["kind"] == "group"
    assert body["name"] == "점심 모임"
    assert body["master"] == "alice"
    assert body["member_count"] == 3
    assert body["last_message"]["type"] == "invite"
    assert reused.status_code == 200
    assert reused.json()["room_id"] == body["room_id"]
    assert Room.objects.count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"member_ids": "bob,carol"},
        {"member_ids": None},
        {"member_ids": [["bob"]]},
        {"member_ids": [{"id": "bob"}]},
        {"member_ids": ["bob", "nobody"]},
        {"member_ids": ["bob", "carol"], "name": "이" * 101},
        {"member_ids": ["bob", "carol"], "name": ["x"]},
        {"member_ids": ["bob"], "name": "1:1에는 이름이 없다"},
        {"member_ids": ["bob", "carol"], "name": "줄\n바꿈"},
        ["bob", "carol"],
        "bob",
    ],
    ids=repr,
)
def test_rooms_create_bad_input_is_400_and_creates_nothing(api, alice, bob, carol, payload):
    response = api(alice).post("/api/rooms", payload, format="json")

    assert_error(response, 400, "invalid")
    assert not Room.objects.exists()
    assert not RoomMember.objects.exists()
    assert not RoomMemberSet.objects.exists()
    assert not Message.objects.exists()


def test_rooms_create_unknown_ids_are_named_in_the_error(api, alice, bob):
    response = api(alice).post("/api/rooms", {"member_ids": ["bob", "ghost"]}, format="json")
    error = assert_error(response, 400, "invalid")
    assert "ghost" in error["message"]
    assert error["detail"] == {"unknown": ["ghost"]}


def test_rooms_create_malformed_json_is_400(api, alice):
    response = api(alice).post(
        "/api/rooms", data=b'{"member_ids": [', content_type="application/json"
    )
    assert_error(response, 400)
    assert not Room.objects.exists()


# --- GET / PATCH /api/rooms/{id} --------------------------------------------------------------


def test_room_get_details_with_every_member(api, alice, bob, carol, group):
    response = api(bob).get(f"/api/rooms/{group.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["room_id"] == group.pk
    assert body["name"] == "프로젝트"
    assert [m["user_id"] for m in body["members"]] == ["alice", "bob", "carol"]
    assert body["last_seq"] == 1


def test_room_patch_nickname_renames_for_me_only(api, alice, bob, group):
    response = api(bob).patch(f"/api/rooms/{group.pk}", {"nickname": "내 팀"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "내 팀"
    assert response.json()["nickname"] == "내 팀"
    assert api(alice).get(f"/api/rooms/{group.pk}").json()["name"] == "프로젝트"
    names = {r["room_id"]: r["name"] for r in my_rooms(api, bob)}
    assert names[group.pk] == "내 팀"


def test_room_patch_muted(api, bob, group):
    response = api(bob).patch(f"/api/rooms/{group.pk}", {"muted": True}, format="json")
    assert response.status_code == 200
    assert response.json()["muted"] is True
    assert RoomMember.objects.get(room=group, user=bob).muted is True


def test_room_patch_name_by_the_master_renames_for_everyone(api, alice, bob, group):
    response = api(alice).patch(f"/api/rooms/{group.pk}", {"name": "새 프로젝트"}, format="json")
    assert response.status_code == 200
    assert api(bob).get(f"/api/rooms/{group.pk}").json()["name"] == "새 프로젝트"


def test_room_patch_name_by_another_member_is_403_not_room_master(api, bob, group):
    response = api(bob).patch(
        f"/api/rooms/{group.pk}", {"name": "탈취", "muted": True}, format="json"
    )
    assert_error(response, 403, "not_room_master")
    group.refresh_from_db()
    assert group.name == "프로젝트"
    assert RoomMember.objects.get(room=group, user=bob).muted is False


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"colour": "red"},
        {"muted": True, "colour": "red"},
        {"muted": "sometimes"},
        {"muted": None},
        {"nickname": None},
        {"nickname": "가" * 101},
        {"nickname": ["x"]},
        {"name": "가" * 101},
        ["muted"],
    ],
    ids=repr,
)
def test_room_patch_bad_input_is_400_and_changes_nothing(api, alice, group, payload):
    response = api(alice).patch(f"/api/rooms/{group.pk}", payload, format="json")

    assert_error(response, 400, "invalid")
    member = RoomMember.objects.get(room=group, user=alice)
    assert member.muted is False
    assert member.nickname == ""
    group.refresh_from_db()
    assert group.name == "프로젝트"


def test_room_patch_name_of_a_direct_room_is_400(api, alice, direct):
    response = api(alice).patch(f"/api/rooms/{direct.pk}", {"name": "둘"}, format="json")
    assert_error(response, 400, "invalid")


# --- invite / leave ---------------------------------------------------------------------------


def test_room_invite_adds_people_and_returns_the_invite_line(api, alice, bob, dave, group):
    send(bob, group.pk, "데이브는 못 보는 말")

    response = api(bob).post(f"/api/rooms/{group.pk}/invite", {"user_ids": ["dave"]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["room"]["room_id"] == group.pk
    assert body["room"]["member_count"] == 4
    assert body["message"]["type"] == "invite"
    page = api(dave).get(f"/api/rooms/{group.pk}/messages").json()
    assert [m["seq"] for m in page["messages"]] == [body["message"]["seq"]]


def test_room_invite_into_a_direct_room_returns_a_new_group(api, alice, bob, carol, direct):
    response = api(alice).post(
        f"/api/rooms/{direct.pk}/invite", {"user_ids": ["carol"]}, format="json"
    )

    assert response.status_code == 200
    room = response.json()["room"]
    assert room["room_id"] != direct.pk
    assert room["kind"] == "group"
    assert room["member_count"] == 3
    assert RoomMember.objects.filter(room=direct).count() == 2


@pytest.mark.parametrize(
    "payload",
    [{}, {"user_ids": []}, {"user_ids": "dave"}, {"user_ids": ["ghost"]}, {"user_ids": None}],
    ids=repr,
)
def test_room_invite_bad_input_is_400_and_changes_nothing(api, alice, dave, group, payload):
    response = api(alice).post(f"/api/rooms/{group.pk}/invite", payload, format="json")
    assert_error(response, 400, "invalid")
    group.refresh_from_db()
    assert group.member_count == 3
    assert group.last_seq == 1


def test_room_leave_group_is_204_and_the_room_leaves_my_list(api, alice, carol, group):
    response = api(carol).post(f"/api/rooms/{group.pk}/leave")

    assert response.status_code == 204
    assert group.pk not in [r["room_id"] for r in my_rooms(api, carol)]
    page = api(alice).get(f"/api/rooms/{group.pk}/messages").json()
    assert page["messages"][-1]["type"] == "leave"
    assert_error(api(carol).get(f"/api/rooms/{group.pk}"), 404, "not_found")


def test_room_leave_by_the_master_hands_over(api, alice, bob, group):
    assert api(alice).post(f"/api/rooms/{group.pk}/leave").status_code == 204
    assert api(bob).get(f"/api/rooms/{group.pk}").json()["master"] == "bob"


def test_room_leave_direct_hides_it_until_the_peer_writes(api, alice, bob, direct):
    send(alice, direct.pk, "안녕")

    assert api(alice).post(f"/api/rooms/{direct.pk}/leave").status_code == 204

    assert direct.pk not in [r["room_id"] for r in my_rooms(api, alice)]
    assert direct.pk in [r["room_id"] for r in my_rooms(api, bob)]
    api(bob).post(
        f"/api/rooms/{direct.pk}/messages",
        {"msg_id": "5f0c4f5e-7a2e-4a37-9d0e-3d8f5c1e2a10", "body": "돌아와"},
        format="json",
    )
    back = {r["room_id"]: r for r in my_rooms(api, alice)}
    assert direct.pk in back
    assert back[direct.pk]["unread"] == 1
    assert Message.objects.filter(room=direct, type=Message.Type.LEAVE).count() == 0
