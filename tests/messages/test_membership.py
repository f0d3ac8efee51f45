"""Membership changes that post a line into the room: open 1:1, create, invite, leave
(messages.services, since they write messages)."""

from __future__ import annotations

import pytest

from messages import selectors as message_selectors
from messages import services
from messages.models import Message
from messenger.errors import InvalidInput, NotRoomMember
from rooms import selectors as room_selectors
from rooms.models import Room, RoomMember, RoomMemberSet
from tests.conftest import send


def room_ids_of(user) -> list[int]:
    return [r["room_id"] for r in room_selectors.rooms_for_user(user=user)]


def history(user, room) -> list[str]:
    page = message_selectors.messages_page(user=user, room_id=room.pk)
    return [m["body"] for m in page["messages"]]


# --- 1:1 rooms --------------------------------------------------------------------------------


def test_room_open_direct_same_room_for_the_pair_both_directions(alice, bob):
    first, created = services.room_open_direct(actor=alice, peer=bob)
    again, created_again = services.room_open_direct(actor=alice, peer=bob)
    reverse, created_reverse = services.room_open_direct(actor=bob, peer=alice)

    assert created is True
    assert created_again is False
    assert created_reverse is False
    assert first.pk == again.pk == reverse.pk
    assert Room.objects.filter(kind=Room.Kind.DIRECT).count() == 1
    assert set(first.members.values_list("user_id", flat=True)) == {alice.pk, bob.pk}


def test_room_open_direct_with_oneself_is_one_room_of_one_member(alice, bob):
    mine, created = services.room_open_direct(actor=alice, peer=alice)
    again, created_again = services.room_open_direct(actor=alice, peer=alice)

    assert created is True
    assert created_again is False
    assert mine.pk == again.pk
    assert mine.member_count == 1
    assert list(mine.members.values_list("user_id", flat=True)) == [alice.pk]
    # A room with oneself is not the room with anyone else.
    with_bob, _ = services.room_open_direct(actor=alice, peer=bob)
    assert with_bob.pk != mine.pk


def test_room_open_direct_disabled_peer_refused(alice, make_user):
    gone = make_user(is_active=False)
    with pytest.raises(InvalidInput):
        services.room_open_direct(actor=alice, peer=gone)
    assert not Room.objects.exists()


def test_room_create_with_one_other_member_returns_the_pairs_direct_room(alice, bob):
    direct, created = services.room_create(actor=alice, member_ids=[bob.user_id])
    same, created_again = services.room_create(actor=bob, member_ids=[alice.user_id])
    also_same, _ = services.room_create(actor=alice, member_ids=[alice.user_id, bob.user_id])

    assert created is True
    assert created_again is False
    assert direct.kind == Room.Kind.DIRECT
    assert direct.pk == same.pk == also_same.pk


def test_room_create_with_nobody_else_gives_the_room_with_oneself(alice):
    room, created = services.room_create(actor=alice, member_ids=[])
    same, created_again = services.room_create(actor=alice, member_ids=[alice.user_id])

    assert created is True
    assert created_again is False
    assert room.pk == same.pk
    assert room.member_count == 1


def test_room_create_direct_with_a_name_refused(alice, bob):
    with pytest.raises(InvalidInput):
        services.room_create(actor=alice, member_ids=[bob.user_id], name="우리 둘")
    assert not Room.objects.exists()


# --- groups -----------------------------------------------------------------------------------


def test_room_create_group_posts_an_invite_line_to_every_member(alice, bob, carol, pushes):
    with pushes.committed():
        room, created = services.room_create(
            actor=alice, member_ids=[bob.user_id, carol.user_id], name="프로젝트"
        )

    assert created is True
    assert room.kind == Room.Kind.GROUP
    assert room.master_id == alice.pk
    assert room.member_count == 3
    line = Message.objects.get(room=room)
    assert line.type == Message.Type.INVITE
    assert line.seq == 1
    assert "밥" in line.body
    assert "캐럴" in line.body
    assert pushes.users_of("message") == {alice.pk, bob.pk, carol.pk}
    assert pushes.users_of("room_updated") == {alice.pk, bob.pk, carol.pk}
    assert room.pk in room_ids_of(bob)


def test_room_create_group_with_exactly_the_same_members_is_reused(alice, bob, carol, group):
    again, created = services.room_create(
        actor=bob, member_ids=[carol.user_id, alice.user_id], name="다른 이름"
    )

    assert created is False
    assert again.pk == group.pk
    assert Room.objects.filter(kind=Room.Kind.GROUP).count() == 1
    assert Message.objects.filter(room=group).count() == 1


def test_room_create_group_with_other_members_is_a_new_room(alice, bob, carol, dave, group):
    bigger, created = services.room_create(
        actor=alice, member_ids=[bob.user_id, carol.user_id, dave.user_id]
    )
    assert created is True
    assert bigger.pk != group.pk


def test_room_create_group_after_a_member_left_matches_the_remaining_members(
    alice, bob, carol, dave, group
):
    services.room_leave(actor=carol, room_id=group.pk)
    services.room_invite(actor=alice, room_id=group.pk, user_ids=[dave.user_id])

    same, created = services.room_create(actor=dave, member_ids=[alice.user_id, bob.user_id])
    assert created is False
    assert same.pk == group.pk
    other, created_other = services.room_create(
        actor=alice, member_ids=[bob.user_id, carol.user_id]
    )
    assert created_other is True
    assert other.pk != group.pk


def test_room_create_unknown_user_ids_creates_nothing(alice, bob):
    with pytest.raises(InvalidInput) as caught:
        services.room_create(actor=alice, member_ids=[bob.user_id, "nobody", "ghost"])

    assert caught.value.extra == {"unknown": ["nobody", "ghost"]}
    assert not Room.objects.exists()
    assert not RoomMember.objects.exists()
    assert not RoomMemberSet.objects.exists()
    assert not Message.objects.exists()


def test_room_create_disabled_member_creates_nothing(alice, bob, make_user):
    gone = make_user(is_active=False)
    with pytest.raises(InvalidInput):
        services.room_create(actor=alice, member_ids=[bob.user_id, gone.user_id])
    assert not Room.objects.exists()


@pytest.mark.parametrize(
    ("member_ids", "name"),
    [
        ("bob", ""),
        ([1, 2], ""),
        (None, ""),
        (["bob", "carol"], "이" * 101),
        (["bob", "carol"], "bad\x00name"),
        (["bob", "carol"], "line\nbreak"),
        (["bob", "carol"], "lone \udc00 surrogate"),
        (["bob", "carol"], 5),
        (["bob", "\ud800"], ""),
    ],
    ids=repr,
)
def test_room_create_bad_input_creates_nothing(alice, bob, carol, member_ids, name):
    with pytest.raises(InvalidInput):
        services.room_create(actor=alice, member_ids=member_ids, name=name)
    assert not Room.objects.exists()
    assert not RoomMember.objects.exists()


def test_room_create_more_members_than_the_limit_refused(alice, make_user, settings):
    settings.MESSENGER = {**settings.MESSENGER, "ROOM_MAX_MEMBERS": 3}
    others = [make_user() for _ in range(3)]
    with pytest.raises(InvalidInput):
        services.room_create(actor=alice, member_ids=[u.user_id for u in others])
    assert not Room.objects.exists()


# --- invite -----------------------------------------------------------------------------------


def test_room_invite_new_member_sees_history_from_the_invite_on(alice, bob, dave, group, pushes):
    send(alice, group.pk, "초대 전 비밀")
    with pushes.committed():
        room, line = services.room_invite(actor=bob, room_id=group.pk, user_ids=[dave.user_id])

    assert room.pk == group.pk
    assert line is not None
    assert line["type"] == "invite"
    assert "데이브" in line["body"]
    assert line["meta"]["user_ids"] == ["dave"]
    room.refresh_from_db()
    assert room.member_count == 4
    assert history(dave, group) == [line["body"]]
    send(bob, group.pk, "초대 후 인사")
    assert history(dave, group) == [line["body"], "초대 후 인사"]
    assert dave.pk in pushes.users_of("message")
    assert dave.pk in pushes.users_of("room_updated")
    # Dave owes nothing from before he came.
    summary = next(r for r in room_selectors.rooms_for_user(user=dave) if r["room_id"] == group.pk)
    assert summary["unread"] == 2


def test_room_invite_reactivates_a_member_who_left(alice, bob, carol, group):
    send(bob, group.pk, "캐럴이 있을 때")
    services.room_leave(actor=carol, room_id=group.pk)
    send(bob, group.pk, "캐럴이 없을 때")

    _room, line = services.room_invite(actor=alice, room_id=group.pk, user_ids=[carol.user_id])

    assert line is not None
    assert line["type"] == "invite"
    member = RoomMember.objects.get(room=group, user=carol)
    assert member.state == RoomMember.State.ACTIVE
    group.refresh_from_db()
    assert group.member_count == 3
    assert RoomMember.objects.filter(room=group, user=carol).count() == 1
    assert history(carol, group) == [line["body"]]
    assert group.pk in room_ids_of(carol)


def test_room_invite_people_already_in_the_room_changes_nothing(alice, bob, group):
    before = group.last_seq
    room, line = services.room_invite(actor=alice, room_id=group.pk, user_ids=[bob.user_id])

    assert line is None
    room.refresh_from_db()
    assert room.last_seq == before
    assert room.member_count == 3


def test_room_invite_into_a_direct_room_starts_a_new_group(alice, bob, carol, direct):
    send(alice, direct.pk, "둘만의 이야기")

    room, _line = services.room_invite(actor=alice, room_id=direct.pk, user_ids=[carol.user_id])

    assert room.pk != direct.pk
    assert room.kind == Room.Kind.GROUP
    assert set(room.members.values_list("user_id", flat=True)) == {alice.pk, bob.pk, carol.pk}
    direct.refresh_from_db()
    assert direct.member_count == 2
    assert not RoomMember.objects.filter(room=direct, user=carol).exists()
    # The new group does not carry the pair's history.
    assert "둘만의 이야기" not in history(carol, room)
    with pytest.raises(NotRoomMember):
        message_selectors.messages_page(user=carol, room_id=direct.pk)


def test_room_invite_by_a_stranger_refused(bob, carol, dave, make_user, group):
    outsider = make_user()
    with pytest.raises(NotRoomMember):
        services.room_invite(actor=outsider, room_id=group.pk, user_ids=[dave.user_id])
    assert not RoomMember.objects.filter(room=group, user=dave).exists()


@pytest.mark.parametrize("user_ids", [[], ["nobody"], "dave", [3], None, ["\ud800"]], ids=repr)
def test_room_invite_bad_input_changes_nothing(alice, dave, group, user_ids):
    with pytest.raises(InvalidInput):
        services.room_invite(actor=alice, room_id=group.pk, user_ids=user_ids)
    group.refresh_from_db()
    assert group.member_count == 3
    assert group.last_seq == 1
    assert not RoomMember.objects.filter(room=group, user=dave).exists()


# --- leave ------------------------------------------------------------------------------------


def test_room_leave_group_posts_a_leave_line_and_refuses_the_leaver(
    alice, bob, carol, group, pushes
):
    with pushes.committed():
        line = services.room_leave(actor=carol, room_id=group.pk)

    assert line is not None
    assert line["type"] == "leave"
    assert "캐럴" in line["body"]
    # Neither alice nor bob has read the leave line yet.
    assert line["unread"] == 2
    group.refresh_from_db()
    assert group.member_count == 2
    assert history(alice, group)[-1] == line["body"]
    assert pushes.users_of("message") == {alice.pk, bob.pk}
    assert pushes.users_of("room_removed") == {carol.pk}
    assert group.pk not in room_ids_of(carol)
    with pytest.raises(NotRoomMember):
        message_selectors.messages_page(user=carol, room_id=group.pk)
    with pytest.raises(NotRoomMember):
        send(carol, group.pk, "돌아왔어요")


def test_room_leave_line_unread_matches_the_stored_count(alice, bob, carol, group):
    line = services.room_leave(actor=carol, room_id=group.pk)
    page = message_selectors.messages_page(user=alice, room_id=group.pk)
    assert page["messages"][-1]["unread"] == line["unread"]


def test_room_leave_by_the_master_hands_the_role_to_the_next_member(alice, bob, carol, group):
    services.room_leave(actor=alice, room_id=group.pk)

    group.refresh_from_db()
    assert group.master_id == bob.pk
    services.room_leave(actor=bob, room_id=group.pk)
    group.refresh_from_db()
    assert group.master_id == carol.pk


def test_room_leave_by_the_last_member_closes_the_room(alice, bob, carol, group):
    for user in (alice, bob, carol):
        services.room_leave(actor=user, room_id=group.pk)
    group.refresh_from_db()
    assert group.state == Room.State.CLOSED
    assert group.member_count == 0


def test_room_leave_twice_refused(carol, group):
    services.room_leave(actor=carol, room_id=group.pk)
    with pytest.raises(NotRoomMember):
        services.room_leave(actor=carol, room_id=group.pk)


def test_room_leave_direct_hides_the_room_until_the_next_message(alice, bob, direct, pushes):
    send(alice, direct.pk, "안녕")
    with pushes.committed():
        line = services.room_leave(actor=alice, room_id=direct.pk)

    assert line is None
    assert not Message.objects.filter(room=direct, type=Message.Type.LEAVE).exists()
    assert pushes.users_of("room_removed") == {alice.pk}
    assert direct.pk not in room_ids_of(alice)
    assert direct.pk in room_ids_of(bob)
    direct.refresh_from_db()
    assert direct.member_count == 2

    send(bob, direct.pk, "다시 왔어?")

    mine = next(r for r in room_selectors.rooms_for_user(user=alice) if r["room_id"] == direct.pk)
    assert mine["unread"] == 1
    assert mine["last_message"]["body"] == "다시 왔어?"
    # The leaver keeps the pair's history: the room was only hidden.
    assert history(alice, direct) == ["안녕", "다시 왔어?"]


def test_room_leave_direct_then_open_again_shows_the_same_room(alice, bob, direct):
    send(bob, direct.pk, "hi")
    services.room_leave(actor=alice, room_id=direct.pk)

    again, created = services.room_open_direct(actor=alice, peer=bob)

    assert created is False
    assert again.pk == direct.pk
    assert direct.pk in room_ids_of(alice)
