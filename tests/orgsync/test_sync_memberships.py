"""The HR sync's deactivations and reactivations reach the rooms: a person who left is not
waited for, one who came back is counted again, and a thousand of them at once stay cheap."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messages import services as message_services
from orgsync.models import User
from orgsync.sync import hr_sync_run
from rooms.models import Room, RoomMember, RoomMemberSet
from tests.orgsync.hr import COMPANY, PEOPLE, people_except, write_batch

pytestmark = pytest.mark.django_db

D1, D2, D3 = "20250301090000", "20250302090000", "20250303090000"


def run(**kwargs):
    outcome = hr_sync_run(lock_wait_seconds=5, **kwargs)
    assert outcome.status == "applied", outcome.message
    return outcome


def person(user_id: str) -> User:
    return User.objects.get(user_id=user_id)


def unread_in_history(api, user, room, msg_id) -> int:
    page = api(user).get(f"/api/rooms/{room.pk}/messages").json()
    return next(m["unread"] for m in page["messages"] if m["msg_id"] == msg_id)


def test_sync_deactivation_and_reactivation_reach_the_rooms(api, pushes):
    write_batch(D1)
    run()
    lee, park, choi = person("lee.seoyeon"), person("park.jiho"), person("choi.yuna")
    room, _ = message_services.room_create(actor=lee, member_ids=[park.user_id, choi.user_id])
    sent, _ = message_services.message_send(
        actor=lee, room_id=room.pk, msg_id=uuid.uuid4(), body="배포합니다"
    )
    api(choi).post(f"/api/rooms/{room.pk}/read", {"seq": sent["seq"]}, format="json")
    assert unread_in_history(api, lee, room, sent["msg_id"]) == 1
    write_batch(D2, users=people_except("park.jiho"))
    pushes.sent.clear()

    with pushes.committed():
        run()

    assert unread_in_history(api, lee, room, sent["msg_id"]) == 0
    readers = api(lee).get(f"/api/messages/{sent['msg_id']}/readers").json()
    assert readers["unread"] == []
    assert {p["user_id"] for p in readers["read"]} == {"lee.seoyeon", "choi.yuna"}
    assert Room.objects.get(pk=room.pk).member_count == 2
    updates = pushes.of("room_updated")
    assert {users[0] for users, _data in updates} == {lee.pk, choi.pk}
    assert {data["member_count"] for _users, data in updates} == {2}

    write_batch(D3)  # park is rehired
    with pushes.committed():
        outcome = run()

    assert outcome.counts["users_reactivated"] == 1
    assert RoomMember.objects.get(room=room, user=park).state == RoomMember.State.ACTIVE
    assert Room.objects.get(pk=room.pk).member_count == 3
    assert unread_in_history(api, lee, room, sent["msg_id"]) == 1
    assert park.pk in pushes.users_of("room_updated")


def test_sync_rolled_back_batch_leaves_the_rooms_as_they_were(monkeypatch):
    write_batch(D1)
    run()
    lee, park = person("lee.seoyeon"), person("park.jiho")
    room, _ = message_services.room_create(actor=lee, member_ids=[park.user_id, "choi.yuna"])
    write_batch(D2, users=people_except("park.jiho"))

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    # The batch fails after its memberships were set aside: all of it rolls back.
    monkeypatch.setattr("orgsync.sync.run.sessions_close_on_commit", broken)
    outcome = hr_sync_run(lock_wait_seconds=5)

    assert outcome.status == "failed"
    assert person("park.jiho").is_active
    assert RoomMember.objects.get(room=room, user=park).state == RoomMember.State.ACTIVE
    assert Room.objects.get(pk=room.pk).member_count == 3


PEOPLE_IN_ROOMS = 1000
GROUP_SIZE = 10


def _company(n: int) -> list[tuple[str, str, str]]:
    return [*PEOPLE, *((f"e{i:05d}", f"직원{i}", "PLT") for i in range(n))]


def _rooms_for(users: list[User]) -> list[int]:
    """Groups of GROUP_SIZE and a 1:1 room for each neighbour pair, written in bulk (the
    services would take minutes to build them one by one)."""
    rooms: list[Room] = []
    members: list[list[int]] = []
    for start in range(0, len(users), GROUP_SIZE):
        team = users[start : start + GROUP_SIZE]
        rooms.append(Room(kind=Room.Kind.GROUP, master=team[0], member_count=len(team)))
        members.append([u.pk for u in team])
    for a, b in zip(users[::2], users[1::2], strict=False):
        rooms.append(Room(kind=Room.Kind.DIRECT, master=a, member_count=2))
        members.append([a.pk, b.pk])
    Room.objects.bulk_create(rooms, batch_size=1000)
    rooms = list(Room.objects.order_by("pk"))
    RoomMember.objects.bulk_create(
        (
            RoomMember(room=r, user_id=pk)
            for r, pks in zip(rooms, members, strict=True)
            for pk in pks
        ),
        batch_size=2000,
    )
    sets = []
    for r, pks in zip(rooms, members, strict=True):
        key = ",".join(str(pk) for pk in sorted(pks))
        digest = hashlib.sha256(key.encode()).hexdigest()
        direct = f"{pks[0]}:{pks[1]}" if r.kind == Room.Kind.DIRECT else None
        sets.append(RoomMemberSet(room=r, members=key, members_hash=digest, direct_key=direct))
    RoomMemberSet.objects.bulk_create(sets, batch_size=1000)
    return [r.pk for r in rooms]


def test_sync_deactivating_a_thousand_people_in_rooms_takes_a_bounded_number_of_queries():
    staying = _company(PEOPLE_IN_ROOMS)
    write_batch(D1, COMPANY, staying)
    run()
    leavers = list(User.objects.filter(user_id__startswith="e").order_by("pk"))
    # Every leaver shares a group with nine others and a 1:1 room with a colleague; a few
    # people who stay are in each of their groups too.
    stayers = list(User.objects.exclude(user_id__startswith="e").order_by("pk"))
    room_ids = _rooms_for(leavers)
    for room_id in room_ids[:5]:
        RoomMember.objects.create(room_id=room_id, user=stayers[0])
    write_batch(D2, COMPANY, PEOPLE)

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        outcome = run(allow_mass_deactivation=True)
    seconds = time.perf_counter() - started

    assert outcome.counts["users_deactivated"] == PEOPLE_IN_ROOMS
    on_rooms = [
        q["sql"] for q in queries.captured_queries if "rooms_room" in q["sql"].split("WHERE")[0]
    ]
    # Chunks of 1,000 people or rooms: a dozen statements on rooms and memberships, where a
    # loop per person per room would take thousands.
    assert len(on_rooms) < 30, len(on_rooms)
    assert RoomMember.objects.filter(state=RoomMember.State.DEACTIVATED).count() == 2000
    assert set(Room.objects.filter(pk__in=room_ids[5:]).values_list("member_count", flat=True)) == {
        0
    }
    assert set(Room.objects.filter(pk__in=room_ids[:5]).values_list("member_count", flat=True)) == {
        1
    }
    print(
        f"hr sync deactivating {PEOPLE_IN_ROOMS} people in {len(room_ids)} rooms: {seconds:.2f} s"
    )
