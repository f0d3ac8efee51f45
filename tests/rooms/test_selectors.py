"""Reads about rooms: my room list, room details, membership checks (rooms.selectors)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messages import services as message_services
from messenger.errors import NotFound, NotRoomMember
from rooms import selectors
from rooms.models import RoomMember
from tests.conftest import send


def rooms_by_id(user) -> dict[int, dict]:
    return {r["room_id"]: r for r in selectors.rooms_for_user(user=user)}


def test_rooms_for_user_newest_activity_first(alice, bob, carol, dave, group, direct):
    other, _ = message_services.room_create(actor=alice, member_ids=[carol.user_id, dave.user_id])
    send(bob, direct.pk, "1:1 먼저")
    send(carol, group.pk, "그룹 다음")
    send(dave, other.pk, "다른 방 마지막")

    assert [r["room_id"] for r in selectors.rooms_for_user(user=alice)] == [
        other.pk,
        group.pk,
        direct.pk,
    ]
    send(bob, direct.pk, "다시 1:1")
    assert [r["room_id"] for r in selectors.rooms_for_user(user=alice)] == [
        direct.pk,
        other.pk,
        group.pk,
    ]


def test_rooms_for_user_shows_the_last_message_and_my_unread_count(alice, bob, carol, group):
    send(bob, group.pk, "첫째")
    send(carol, group.pk, "둘째")

    mine = rooms_by_id(alice)[group.pk]

    assert mine["last_seq"] == 3
    assert mine["unread"] == 2
    assert mine["last_message"]["body"] == "둘째"
    assert mine["last_message"]["sender"] == "carol"
    assert mine["last_message"]["sender_name"] == "캐럴"
    assert mine["last_message"]["seq"] == 3
    assert rooms_by_id(bob)[group.pk]["unread"] == 1
    assert rooms_by_id(carol)[group.pk]["unread"] == 0
    assert mine["member_count"] == 3
    assert mine["master"] == "alice"
    assert {m["user_id"] for m in mine["members"]} == {"alice", "bob", "carol"}


def test_rooms_for_user_group_without_a_name_shows_the_other_members(alice, make_user):
    others = [make_user(name=f"동료{n}") for n in range(6)]
    room, _ = message_services.room_create(actor=alice, member_ids=[u.user_id for u in others])

    name = rooms_by_id(alice)[room.pk]["name"]

    assert name == "동료0, 동료1, 동료2, 동료3 외 2명"
    assert rooms_by_id(others[0])[room.pk]["name"].startswith("앨리스, 동료1")


def test_rooms_for_user_direct_room_is_named_after_the_peer(alice, bob, direct):
    send(alice, direct.pk, "hi")
    assert rooms_by_id(alice)[direct.pk]["name"] == "밥"
    assert rooms_by_id(bob)[direct.pk]["name"] == "앨리스"


def test_rooms_for_user_room_with_oneself_is_named_after_me(alice):
    mine, _ = message_services.room_open_direct(actor=alice, peer=alice)
    assert rooms_by_id(alice)[mine.pk]["name"] == "앨리스"


def test_rooms_for_user_empty_direct_room_only_for_the_one_who_opened_it(alice, bob, direct):
    assert direct.pk in rooms_by_id(alice)
    assert direct.pk not in rooms_by_id(bob)
    send(alice, direct.pk, "먼저 말 걸기")
    assert direct.pk in rooms_by_id(bob)


def test_rooms_for_user_leaves_out_rooms_i_left(carol, group):
    message_services.room_leave(actor=carol, room_id=group.pk)
    assert group.pk not in rooms_by_id(carol)


def test_rooms_for_user_cancelled_last_message_shows_no_body(alice, bob, group):
    sent = send(bob, group.pk, "취소할 말")
    message_services.message_cancel(actor=bob, msg_id=sent["msg_id"])
    last = rooms_by_id(alice)[group.pk]["last_message"]
    assert last["body"] == ""
    assert last["state"] == "cancelled"


def test_room_detail_lists_every_member(alice, bob, carol, dave, group):
    message_services.room_invite(actor=alice, room_id=group.pk, user_ids=[dave.user_id])
    message_services.room_leave(actor=bob, room_id=group.pk)

    detail = selectors.room_detail(user=carol, room_id=group.pk)

    assert [m["user_id"] for m in detail["members"]] == ["alice", "carol", "dave"]
    assert detail["member_count"] == 3
    assert detail["name"] == "프로젝트"


def test_membership_get_refuses_strangers_leavers_and_unknown_rooms(carol, make_user, group):
    with pytest.raises(NotRoomMember):
        selectors.membership_get(user=make_user(), room_id=group.pk)
    with pytest.raises(NotFound):
        selectors.membership_get(user=carol, room_id=group.pk + 1000)
    with pytest.raises(NotFound):
        selectors.membership_get(user=carol, room_id="x")
    message_services.room_leave(actor=carol, room_id=group.pk)
    with pytest.raises(NotRoomMember):
        selectors.membership_get(user=carol, room_id=group.pk)


def test_membership_get_still_lets_a_direct_leaver_in(alice, direct):
    message_services.room_leave(actor=alice, room_id=direct.pk)
    member = selectors.membership_get(user=alice, room_id=direct.pk)
    assert member.state == RoomMember.State.HIDDEN


def test_rooms_for_user_query_count_does_not_grow_with_my_rooms(alice, make_user):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            selectors.rooms_for_user(user=alice)
        return len(captured.captured_queries)

    for _ in range(2):
        peer = make_user()
        room, _ = message_services.room_open_direct(actor=alice, peer=peer)
        send(peer, room.pk, "hi")
    few = list_queries()
    for _ in range(10):
        others = [make_user(), make_user()]
        room, _ = message_services.room_create(
            actor=others[0], member_ids=[alice.user_id, others[1].user_id]
        )
        send(others[1], room.pk, "hello")

    assert list_queries() == few
    assert len(selectors.rooms_for_user(user=alice)) == 12
