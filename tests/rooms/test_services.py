"""A room's own settings: rename for me, rename for everyone, mute (rooms.services)."""

from __future__ import annotations

import pytest

from messages.services import room_leave
from messenger.errors import InvalidInput, NotFound, NotRoomMaster, NotRoomMember
from rooms import selectors, services
from rooms.models import Room, RoomMember
from tests.conftest import send


def name_for(user, room) -> str:
    return next(r for r in selectors.rooms_for_user(user=user) if r["room_id"] == room.pk)["name"]


def test_room_update_for_me_nickname_is_the_room_name_for_me_only(alice, bob, group, pushes):
    with pushes.committed():
        services.room_update_for_me(actor=bob, room_id=group.pk, nickname="  우리 팀  ")

    assert name_for(bob, group) == "우리 팀"
    assert name_for(alice, group) == "프로젝트"
    assert pushes.users_of("room_updated") == {bob.pk}
    [(_users, data)] = pushes.of("room_updated")
    assert data["name"] == "우리 팀"

    services.room_update_for_me(actor=bob, room_id=group.pk, nickname="")
    assert name_for(bob, group) == "프로젝트"


def test_room_update_for_me_nickname_in_a_direct_room(alice, bob, direct):
    send(alice, direct.pk, "hi")
    services.room_update_for_me(actor=alice, room_id=direct.pk, nickname="밥 과장님")
    assert name_for(alice, direct) == "밥 과장님"
    assert name_for(bob, direct) == "앨리스"


def test_room_update_for_me_mute_only_for_me(alice, bob, group):
    services.room_update_for_me(actor=bob, room_id=group.pk, muted=True)

    assert RoomMember.objects.get(room=group, user=bob).muted is True
    assert RoomMember.objects.get(room=group, user=alice).muted is False
    mine = next(r for r in selectors.rooms_for_user(user=bob) if r["room_id"] == group.pk)
    assert mine["muted"] is True

    services.room_update_for_me(actor=bob, room_id=group.pk, muted=False)
    assert RoomMember.objects.get(room=group, user=bob).muted is False


@pytest.mark.parametrize(
    "nickname", ["가" * 101, "tab\tinside", "nul\x00", "lone \ud800", 7, ["x"]], ids=repr
)
def test_room_update_for_me_bad_nickname_refused(bob, group, nickname):
    with pytest.raises(InvalidInput):
        services.room_update_for_me(actor=bob, room_id=group.pk, nickname=nickname)
    assert RoomMember.objects.get(room=group, user=bob).nickname == ""


def test_room_update_for_me_by_a_stranger_or_leaver_refused(carol, make_user, group):
    with pytest.raises(NotRoomMember):
        services.room_update_for_me(actor=make_user(), room_id=group.pk, muted=True)
    with pytest.raises(NotFound):
        services.room_update_for_me(actor=carol, room_id=group.pk + 1000, muted=True)
    room_leave(actor=carol, room_id=group.pk)
    with pytest.raises(NotRoomMember):
        services.room_update_for_me(actor=carol, room_id=group.pk, nickname="x")


def test_room_rename_for_everyone_by_the_master(alice, bob, carol, group, pushes):
    with pushes.committed():
        services.room_rename_for_everyone(actor=alice, room_id=group.pk, name="새 이름")

    group.refresh_from_db()
    assert group.name == "새 이름"
    assert name_for(bob, group) == "새 이름"
    assert name_for(carol, group) == "새 이름"
    assert pushes.users_of("room_updated") == {alice.pk, bob.pk, carol.pk}


def test_room_rename_for_everyone_keeps_my_own_nickname_first(alice, bob, group):
    services.room_update_for_me(actor=bob, room_id=group.pk, nickname="내 이름")
    services.room_rename_for_everyone(actor=alice, room_id=group.pk, name="모두의 이름")
    assert name_for(bob, group) == "내 이름"
    assert name_for(alice, group) == "모두의 이름"


def test_room_rename_for_everyone_by_another_member_refused(bob, group):
    with pytest.raises(NotRoomMaster):
        services.room_rename_for_everyone(actor=bob, room_id=group.pk, name="몰래 바꾸기")
    group.refresh_from_db()
    assert group.name == "프로젝트"


def test_room_rename_for_everyone_in_a_direct_room_refused(alice, direct):
    with pytest.raises(InvalidInput):
        services.room_rename_for_everyone(actor=alice, room_id=direct.pk, name="둘")
    direct.refresh_from_db()
    assert direct.name == ""


def test_room_rename_for_everyone_by_the_new_master_after_handover(alice, bob, group):
    room_leave(actor=alice, room_id=group.pk)
    services.room_rename_for_everyone(actor=bob, room_id=group.pk, name="밥의 방")
    assert Room.objects.get(pk=group.pk).name == "밥의 방"


def test_room_update_is_all_or_nothing(bob, group):
    with pytest.raises(NotRoomMaster):
        services.room_update(actor=bob, room_id=group.pk, name="x", muted=True, nickname="n")
    member = RoomMember.objects.get(room=group, user=bob)
    assert member.muted is False
    assert member.nickname == ""
