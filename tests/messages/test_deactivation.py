"""A deactivated person is a former member of their rooms: nobody waits for them to read.

Deactivation by an admin (orgsync.services.users_set_active) here; the HR sync's path is in
tests/orgsync/test_sync_memberships.py and the socket pushes in
tests/gateway/test_deactivation_pushes.py."""

from __future__ import annotations

import uuid

import pytest

from messages import services
from orgsync.services import users_set_active
from rooms.models import Room, RoomMember, RoomMemberSet
from tests.conftest import send
from tests.messages.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(make_user):
    return make_user(user_id="it.admin", name="관리자", is_staff=True, is_superuser=True)


def deactivate(admin, *users):
    return users_set_active(actor=admin, user_pks=[u.pk for u in users], active=False)


def reactivate(admin, *users):
    return users_set_active(actor=admin, user_pks=[u.pk for u in users], active=True)


def history(api, user, room):
    response = api(user).get(f"/api/rooms/{room.pk}/messages")
    assert response.status_code == 200, response.content
    return {m["body"]: m for m in response.json()["messages"]}


def room_in_list(api, user, room):
    response = api(user).get("/api/rooms")
    assert response.status_code == 200
    return next(r for r in response.json()["rooms"] if r["room_id"] == room.pk)


def test_deactivated_member_is_not_waited_for_in_a_room_of_three(api, admin, alice, bob, carol):
    room, _ = services.room_create(actor=alice, member_ids=[bob.user_id, carol.user_id])
    deactivate(admin, carol)

    sent = send(alice, room.pk, "회의 10시")
    api(bob).post(f"/api/rooms/{room.pk}/read", {"seq": sent["seq"]}, format="json")

    assert sent["unread"] == 1  # bob had not read it yet when it was sent; carol never counts
    assert history(api, alice, room)["회의 10시"]["unread"] == 0
    readers = api(alice).get(f"/api/messages/{sent['msg_id']}/readers").json()
    assert {p["user_id"] for p in readers["read"]} == {"alice", "bob"}
    assert readers["unread"] == []
    listed = room_in_list(api, alice, room)
    assert listed["member_count"] == 2
    assert "carol" not in {m["user_id"] for m in listed["members"]}
    detail = api(alice).get(f"/api/rooms/{room.pk}").json()
    assert [m["user_id"] for m in detail["members"]] == ["alice", "bob"]


def test_deactivation_clears_the_one_on_messages_they_had_not_read(api, admin, alice, bob, carol):
    room, _ = services.room_create(actor=alice, member_ids=[bob.user_id, carol.user_id])
    sent = send(alice, room.pk, "읽어 주세요")
    api(bob).post(f"/api/rooms/{room.pk}/read", {"seq": sent["seq"]}, format="json")
    assert history(api, alice, room)["읽어 주세요"]["unread"] == 1

    deactivate(admin, carol)

    assert history(api, alice, room)["읽어 주세요"]["unread"] == 0
    search = api(alice).get("/api/search", {"q": "읽어"}).json()
    assert [r["unread"] for r in search["messages"]] == [0]


def test_deactivation_pushes_the_room_to_the_members_who_stay(admin, alice, bob, carol, pushes):
    room, _ = services.room_create(actor=alice, member_ids=[bob.user_id, carol.user_id])
    pushes.sent.clear()

    with pushes.committed():
        deactivate(admin, carol)

    updates = {users[0]: data for users, data in pushes.of("room_updated")}
    assert set(updates) == {alice.pk, bob.pk}
    assert {data["member_count"] for data in updates.values()} == {2}
    assert all(data["room_id"] == room.pk for data in updates.values())

    with pushes.committed():
        sent = send(alice, room.pk, "새 소식")
    assert pushes.users_of("message") == {alice.pk, bob.pk}
    assert sent["unread"] == 1


def test_deactivated_master_hands_the_room_to_the_longest_standing_member(admin, alice, bob, carol):
    room, _ = services.room_create(actor=alice, member_ids=[bob.user_id, carol.user_id])

    deactivate(admin, alice)

    room.refresh_from_db()
    assert room.master_id == bob.pk
    assert RoomMemberSet.objects.get(room=room).members == ",".join(
        str(pk) for pk in sorted([bob.pk, carol.pk])
    )


def test_reactivation_brings_them_back_with_what_they_missed_unread(
    api, admin, alice, bob, carol, pushes
):
    room, _ = services.room_create(actor=alice, member_ids=[bob.user_id, carol.user_id])
    deactivate(admin, carol)
    sent = send(alice, room.pk, "없는 동안")
    api(bob).post(f"/api/rooms/{room.pk}/read", {"seq": sent["seq"]}, format="json")
    assert history(api, alice, room)["없는 동안"]["unread"] == 0
    pushes.sent.clear()

    with pushes.committed():
        reactivate(admin, carol)

    assert pushes.users_of("room_updated") == {alice.pk, bob.pk, carol.pk}
    assert room_in_list(api, alice, room)["member_count"] == 3
    # They can read it now and have not: the "1" is true again, and their list says so.
    assert history(api, alice, room)["없는 동안"]["unread"] == 1
    assert room_in_list(api, carol, room)["unread"] == sent["seq"]  # never read anything
    assert history(api, carol, room)["없는 동안"]["body"] == "없는 동안"
    assert send(carol, room.pk, "돌아왔어요")["unread"] == 2


def test_one_on_one_with_a_deactivated_peer_stays_readable_but_takes_no_message(
    api, admin, alice, bob
):
    room, _ = services.room_open_direct(actor=alice, peer=bob)
    sent = send(alice, room.pk, "안녕")
    deactivate(admin, bob)

    listed = room_in_list(api, alice, room)
    assert listed["name"] == "밥"
    assert listed["members"] == [
        {"user_id": "alice", "name": "앨리스", "active": True},
        {"user_id": "bob", "name": "밥", "active": False},
    ]
    assert listed["member_count"] == 1
    assert history(api, alice, room)["안녕"]["unread"] == 0
    assert api(alice).get(f"/api/messages/{sent['msg_id']}/readers").json()["unread"] == []

    refused = api(alice).post(
        f"/api/rooms/{room.pk}/messages",
        {"msg_id": str(uuid.uuid4()), "body": "거기 있어요?"},
        format="json",
    )
    assert_error(refused, 409, "peer_deactivated")
    assert Room.objects.get(pk=room.pk).last_seq == sent["seq"]
    # A retry of what was stored before still gets its message.
    retry = api(alice).post(
        f"/api/rooms/{room.pk}/messages", {"msg_id": sent["msg_id"], "body": "안녕"}, format="json"
    )
    assert retry.status_code == 200, retry.content

    reactivate(admin, bob)
    again = send(alice, room.pk, "다시 왔네요")
    assert again["unread"] == 1
    assert room_in_list(api, alice, room)["member_count"] == 2


def test_a_room_with_oneself_still_takes_messages(api, alice):
    room, _ = services.room_open_direct(actor=alice, peer=alice)
    assert send(alice, room.pk, "메모")["unread"] == 0


def test_a_hidden_one_on_one_stays_hidden_after_reactivation(api, admin, alice, bob):
    room, _ = services.room_open_direct(actor=alice, peer=bob)
    send(alice, room.pk, "안녕")
    services.room_leave(actor=bob, room_id=room.pk)

    deactivate(admin, bob)
    assert RoomMember.objects.get(room=room, user=bob).state == RoomMember.State.DEACTIVATED
    reactivate(admin, bob)

    assert RoomMember.objects.get(room=room, user=bob).state == RoomMember.State.HIDDEN
    assert room_in_list(api, alice, room)["member_count"] == 2


def test_a_room_closed_while_they_were_away_stays_closed(api, admin, alice, bob, carol):
    room, _ = services.room_create(actor=alice, member_ids=[bob.user_id, carol.user_id])
    deactivate(admin, carol)
    services.room_leave(actor=alice, room_id=room.pk)
    services.room_leave(actor=bob, room_id=room.pk)
    assert Room.objects.get(pk=room.pk).state == Room.State.CLOSED

    reactivate(admin, carol)

    assert RoomMember.objects.get(room=room, user=carol).state == RoomMember.State.LEFT
    assert Room.objects.get(pk=room.pk).member_count == 0
    assert all(r["room_id"] != room.pk for r in api(carol).get("/api/rooms").json()["rooms"])
