"""Writes of messages: send (idempotent by msg_id), read, delete for me, cancel for everyone."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messages import selectors, services
from messages.models import Message, MessageReceipt
from messenger.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    NotMessageSender,
    NotRoomMember,
)
from rooms import selectors as room_selectors
from rooms.models import Room, RoomMember
from tests.conftest import send


def history(user, room) -> list[str]:
    page = selectors.messages_page(user=user, room_id=room.pk)
    return [m["body"] for m in page["messages"]]


def summary_of(user, room) -> dict:
    return next(r for r in room_selectors.rooms_for_user(user=user) if r["room_id"] == room.pk)


# --- send -------------------------------------------------------------------------------------


def test_message_send_stores_the_message_with_the_next_seq(alice, bob, carol, group, pushes):
    with pushes.committed():
        first, created = services.message_send(
            actor=bob, room_id=group.pk, msg_id=uuid.uuid4(), body="안녕하세요"
        )
    second = send(carol, group.pk, "반가워요")

    assert created is True
    assert first["seq"] == 2
    assert second["seq"] == 3
    assert first["sender"] == "bob"
    assert first["sender_name"] == "밥"
    assert first["type"] == "talk"
    assert first["body"] == "안녕하세요"
    # Only the sender has read it when it lands.
    assert first["unread"] == 2
    pushed = [data for _users, data in pushes.of("message")]
    assert pushed == [first]
    group.refresh_from_db()
    assert group.last_seq == 3
    assert history(alice, group)[-2:] == ["안녕하세요", "반가워요"]


def test_message_send_retry_with_the_same_msg_id_stores_once(bob, group, pushes):
    msg_id = uuid.uuid4()
    stored, created = services.message_send(
        actor=bob, room_id=group.pk, msg_id=msg_id, body="한 번만"
    )
    with pushes.committed():
        retry, created_again = services.message_send(
            actor=bob, room_id=group.pk, msg_id=str(msg_id), body="한 번만"
        )

    assert created is True
    assert created_again is False
    assert retry["seq"] == stored["seq"]
    assert retry["msg_id"] == stored["msg_id"] == str(msg_id)
    assert retry["body"] == "한 번만"
    assert Message.objects.filter(room=group).count() == 2
    # Pushed again, the same message: the first push may have been lost with the answer.
    [(_, pushed)] = pushes.of("message")
    assert pushed["msg_id"] == str(msg_id) and pushed["seq"] == stored["seq"]
    group.refresh_from_db()
    assert group.last_seq == stored["seq"]


def test_message_send_retry_returns_the_stored_message_not_the_new_body(bob, group):
    msg_id = uuid.uuid4()
    services.message_send(actor=bob, room_id=group.pk, msg_id=msg_id, body="원래 내용")
    retry, created = services.message_send(
        actor=bob, room_id=group.pk, msg_id=msg_id, body="바뀐 내용"
    )
    assert created is False
    assert retry["body"] == "원래 내용"


def test_message_send_same_msg_id_in_another_room_conflicts(alice, bob, group, direct):
    msg_id = uuid.uuid4()
    send(bob, group.pk, "여기", msg_id=msg_id)
    with pytest.raises(Conflict):
        send(bob, direct.pk, "저기", msg_id=msg_id)
    assert Message.objects.filter(room=direct).count() == 0


def test_message_send_same_msg_id_by_another_sender_conflicts(bob, carol, group):
    msg_id = uuid.uuid4()
    send(bob, group.pk, "내 것", msg_id=msg_id)
    with pytest.raises(Conflict):
        send(carol, group.pk, "남의 것", msg_id=msg_id)
    assert Message.objects.filter(room=group).count() == 2


def test_message_send_retry_after_leaving_refused(bob, group):
    msg_id = uuid.uuid4()
    send(bob, group.pk, "나가기 전", msg_id=msg_id)
    services.room_leave(actor=bob, room_id=group.pk)
    with pytest.raises(NotRoomMember):
        send(bob, group.pk, "나가기 전", msg_id=msg_id)


def test_message_send_reply_to_a_message_of_the_same_room(alice, bob, group):
    question = send(alice, group.pk, "점심 뭐 먹어요?")
    answer = send(bob, group.pk, "국밥이요", reply_to=question["msg_id"])

    assert answer["reply_to"]["msg_id"] == question["msg_id"]
    assert answer["reply_to"]["body"] == "점심 뭐 먹어요?"
    assert answer["reply_to"]["sender"] == "alice"
    page = selectors.messages_page(user=alice, room_id=group.pk)
    assert page["messages"][-1]["reply_to"]["msg_id"] == question["msg_id"]


def test_message_send_reply_to_a_message_of_another_room_refused(alice, bob, group, direct):
    elsewhere = send(alice, direct.pk, "둘만 아는 이야기")
    with pytest.raises(InvalidInput):
        send(alice, group.pk, "답장", reply_to=elsewhere["msg_id"])
    assert Message.objects.filter(room=group).count() == 1


def test_message_send_reply_to_a_message_before_joining_refused(alice, bob, dave, group):
    before = send(alice, group.pk, "데이브 오기 전")
    services.room_invite(actor=alice, room_id=group.pk, user_ids=[dave.user_id])
    with pytest.raises(InvalidInput):
        send(dave, group.pk, "답장", reply_to=before["msg_id"])


@pytest.mark.parametrize("reply_to", ["not-a-uuid", str(uuid.uuid4()), 12])
def test_message_send_bad_reply_to_refused(bob, group, reply_to):
    with pytest.raises(InvalidInput):
        send(bob, group.pk, "답장", reply_to=reply_to)
    assert Message.objects.filter(room=group).count() == 1


@pytest.mark.parametrize(
    "body", ["", "   \n\t", "nul\x00inside", "lone \ud800 surrogate", 42, None, ["list"]], ids=repr
)
def test_message_send_bad_body_refused(bob, group, body):
    with pytest.raises(InvalidInput):
        send(bob, group.pk, body)
    assert Message.objects.filter(room=group).count() == 1


def test_message_send_body_at_the_limit_accepted_one_more_refused(bob, group, settings):
    limit = settings.MESSENGER["BODY_MAX_CHARS"]
    stored = send(bob, group.pk, "가" * limit)
    assert len(stored["body"]) == limit
    assert len(history(bob, group)[-1]) == limit
    with pytest.raises(InvalidInput):
        send(bob, group.pk, "가" * (limit + 1))


def test_message_send_keeps_emoji_and_korean_intact(alice, bob, group):
    text = "좋아요 👍🏻 😀 한글 ㄱㄴㄷ"
    send(bob, group.pk, text)
    assert history(alice, group)[-1] == text


@pytest.mark.parametrize("msg_id", ["", "123", "not-a-uuid", None, 5])
def test_message_send_msg_id_not_a_uuid_refused(bob, group, msg_id):
    with pytest.raises(InvalidInput):
        send(bob, group.pk, "hello", msg_id=msg_id)


@pytest.mark.parametrize("kind", ["invite", "leave", "notice", "file", "nonsense"])
def test_message_send_types_clients_may_not_send_refused(bob, group, kind):
    with pytest.raises(InvalidInput):
        send(bob, group.pk, "가짜 시스템 줄", type=kind)
    assert Message.objects.filter(room=group).count() == 1


def test_message_send_by_a_stranger_or_to_an_unknown_room_refused(make_user, group):
    stranger = make_user()
    with pytest.raises(NotRoomMember):
        send(stranger, group.pk, "hi")
    with pytest.raises(NotFound):
        send(stranger, group.pk + 1000, "hi")
    assert Message.objects.filter(room=group).count() == 1


def test_message_send_in_a_direct_room_brings_back_a_hidden_room(alice, bob, direct):
    services.room_leave(actor=bob, room_id=direct.pk)
    send(alice, direct.pk, "어디 갔어?")
    assert RoomMember.objects.get(room=direct, user=bob).state == RoomMember.State.ACTIVE
    assert summary_of(bob, direct)["unread"] == 1


def _group_of(size: int, make_user, actor) -> Room:
    others = [make_user() for _ in range(size - 1)]
    room, _ = services.room_create(actor=actor, member_ids=[u.user_id for u in others])
    return room


def test_message_send_writes_the_same_queries_for_3_and_30_members(alice, make_user):
    small = _group_of(3, make_user, alice)
    large = _group_of(30, make_user, alice)
    send(alice, small.pk, "warm up")
    send(alice, large.pk, "warm up")

    with CaptureQueriesContext(connection) as in_small:
        send(alice, small.pk, "작은 방")
    with CaptureQueriesContext(connection) as in_large:
        send(alice, large.pk, "큰 방")

    assert len(in_small.captured_queries) == len(in_large.captured_queries)
    inserts = [q["sql"] for q in in_large.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert RoomMember.objects.filter(room=large).count() == 30


def test_message_send_query_count_has_a_small_fixed_bound(
    alice, make_user, django_assert_max_num_queries
):
    large = _group_of(30, make_user, alice)
    # Membership, room lock with its member set, retry check, insert, room, watermark, and the
    # (save)point pair: docs/benchmarks.md, "what each optimisation changed".
    with django_assert_max_num_queries(8):
        send(alice, large.pk, "hello")


# --- read -------------------------------------------------------------------------------------


def test_room_read_raises_the_watermark_and_the_unread_count_follows(alice, bob, carol, group):
    for n in range(4):
        send(alice, group.pk, f"m{n}")
    assert summary_of(bob, group)["unread"] == 5

    assert services.room_read(actor=bob, room_id=group.pk, seq=3) == 3

    assert summary_of(bob, group)["unread"] == 2
    assert summary_of(carol, group)["unread"] == 5


def test_room_read_never_lowers_the_watermark(alice, bob, group):
    for n in range(3):
        send(alice, group.pk, f"m{n}")
    services.room_read(actor=bob, room_id=group.pk, seq=4)

    assert services.room_read(actor=bob, room_id=group.pk, seq=2) == 4
    assert RoomMember.objects.get(room=group, user=bob).last_read_seq == 4


def test_room_read_beyond_the_last_message_clamps_to_last_seq(alice, bob, group):
    send(alice, group.pk, "하나")
    assert services.room_read(actor=bob, room_id=group.pk, seq=10_000) == 2
    send(alice, group.pk, "둘")
    assert summary_of(bob, group)["unread"] == 1


def test_room_read_pushes_the_new_watermark_to_the_members(alice, bob, carol, group, pushes):
    send(alice, group.pk, "읽어 주세요")
    with pushes.committed():
        services.room_read(actor=bob, room_id=group.pk, seq=2)
    [(users, data)] = pushes.of("read")
    assert set(users) == {alice.pk, bob.pk, carol.pk}
    assert data == {"room_id": group.pk, "user_id": "bob", "seq": 2}
    with pushes.committed():
        services.room_read(actor=bob, room_id=group.pk, seq=1)
    assert len(pushes.of("read")) == 1


@pytest.mark.parametrize("seq", [-1, "3", 1.5, True, None])
def test_room_read_bad_seq_refused(bob, group, seq):
    with pytest.raises(InvalidInput):
        services.room_read(actor=bob, room_id=group.pk, seq=seq)


def test_room_read_by_a_member_who_left_refused(carol, group):
    services.room_leave(actor=carol, room_id=group.pk)
    with pytest.raises(NotRoomMember):
        services.room_read(actor=carol, room_id=group.pk, seq=1)


def test_room_open_reads_up_to_the_newest_message(alice, bob, group):
    send(alice, group.pk, "a")
    send(alice, group.pk, "b")
    assert services.room_open(actor=bob, room_id=group.pk) == 3
    assert summary_of(bob, group)["unread"] == 0


def test_message_unread_count_drops_as_members_read(alice, bob, carol, group):
    sent = send(alice, group.pk, "1이 사라지나요?")
    assert sent["unread"] == 2

    services.room_read(actor=bob, room_id=group.pk, seq=sent["seq"])
    page = selectors.messages_page(user=alice, room_id=group.pk)
    assert page["messages"][-1]["unread"] == 1

    services.room_read(actor=carol, room_id=group.pk, seq=sent["seq"])
    page = selectors.messages_page(user=alice, room_id=group.pk)
    assert page["messages"][-1]["unread"] == 0


# --- delete for me ----------------------------------------------------------------------------


def test_message_delete_for_me_hides_it_from_my_history_only(alice, bob, group):
    sent = send(alice, group.pk, "지울 말")
    send(alice, group.pk, "남길 말")

    services.message_delete_for_me(actor=bob, msg_id=sent["msg_id"])
    services.message_delete_for_me(actor=bob, msg_id=sent["msg_id"])

    assert "지울 말" not in history(bob, group)
    assert "남길 말" in history(bob, group)
    assert "지울 말" in history(alice, group)
    assert MessageReceipt.objects.filter(user=bob).count() == 1


def test_message_delete_for_me_by_a_stranger_refused(alice, make_user, group):
    sent = send(alice, group.pk, "비밀")
    with pytest.raises(NotFound, match="No such message"):
        services.message_delete_for_me(actor=make_user(), msg_id=sent["msg_id"])
    assert not MessageReceipt.objects.exists()


def test_message_delete_for_me_unknown_or_bad_msg_id(bob, group):
    with pytest.raises(NotFound):
        services.message_delete_for_me(actor=bob, msg_id=uuid.uuid4())
    with pytest.raises(InvalidInput):
        services.message_delete_for_me(actor=bob, msg_id="nope")


# --- cancel for everyone ----------------------------------------------------------------------


def _age(message: dict, hours: float) -> None:
    Message.objects.filter(msg_id=message["msg_id"]).update(
        created_at=timezone.now() - timedelta(hours=hours)
    )


def test_message_cancel_by_the_sender_hides_the_body_from_everyone(
    alice, bob, carol, group, pushes
):
    sent = send(bob, group.pk, "잘못 보낸 말")
    reply = send(alice, group.pk, "뭐라고요?", reply_to=sent["msg_id"])

    with pushes.committed():
        updated = services.message_cancel(actor=bob, msg_id=sent["msg_id"])

    assert updated == {
        "msg_id": sent["msg_id"],
        "room_id": group.pk,
        "seq": sent["seq"],
        "state": "cancelled",
    }
    [(users, data)] = pushes.of("message_updated")
    assert set(users) == {alice.pk, bob.pk, carol.pk}
    assert data == updated
    for user in (alice, bob, carol):
        page = selectors.messages_page(user=user, room_id=group.pk)
        shown = {m["msg_id"]: m for m in page["messages"]}
        assert shown[sent["msg_id"]]["state"] == "cancelled"
        assert shown[sent["msg_id"]]["body"] == ""
        assert shown[reply["msg_id"]]["reply_to"]["body"] == ""
    assert "잘못 보낸 말" not in str(selectors.messages_search(user=carol, q="잘못"))
    # A retry of the cancelled send does not bring the body back either.
    retry, _ = services.message_send(
        actor=bob, room_id=group.pk, msg_id=sent["msg_id"], body="잘못 보낸 말"
    )
    assert retry["body"] == ""
    # The text stays in the database for audit.
    assert Message.objects.get(msg_id=sent["msg_id"]).body == "잘못 보낸 말"


def test_message_cancel_of_the_last_message_blanks_the_room_preview(alice, bob, group):
    sent = send(bob, group.pk, "미리보기에 남으면 안 됨")
    services.message_cancel(actor=bob, msg_id=sent["msg_id"])

    last = summary_of(alice, group)["last_message"]
    assert last["body"] == ""
    assert last["state"] == "cancelled"


def test_message_cancel_within_the_window_allowed(bob, group):
    sent = send(bob, group.pk, "23시간 전")
    _age(sent, 23)
    assert services.message_cancel(actor=bob, msg_id=sent["msg_id"])["state"] == "cancelled"


def test_message_cancel_after_the_window_refused(bob, group):
    sent = send(bob, group.pk, "25시간 전")
    _age(sent, 25)
    with pytest.raises(Conflict):
        services.message_cancel(actor=bob, msg_id=sent["msg_id"])
    assert Message.objects.get(msg_id=sent["msg_id"]).state == Message.State.NORMAL


def test_message_cancel_by_someone_else_refused(alice, bob, group):
    sent = send(bob, group.pk, "내 말")
    with pytest.raises(NotMessageSender):
        services.message_cancel(actor=alice, msg_id=sent["msg_id"])
    assert Message.objects.get(msg_id=sent["msg_id"]).state == Message.State.NORMAL


def test_message_cancel_of_a_system_line_refused(alice, group):
    line = Message.objects.get(room=group, seq=1)
    assert line.sender_id == alice.pk
    with pytest.raises(InvalidInput):
        services.message_cancel(actor=alice, msg_id=line.msg_id)
    line.refresh_from_db()
    assert line.state == Message.State.NORMAL
    assert history(alice, group)[0] == line.body


def test_message_cancel_twice_is_harmless(bob, group):
    sent = send(bob, group.pk, "두 번 취소")
    services.message_cancel(actor=bob, msg_id=sent["msg_id"])
    assert services.message_cancel(actor=bob, msg_id=sent["msg_id"])["state"] == "cancelled"


def test_message_cancel_after_leaving_refused(bob, group):
    sent = send(bob, group.pk, "나가기 전에 한 말")
    services.room_leave(actor=bob, room_id=group.pk)
    with pytest.raises(NotFound, match="No such message"):
        services.message_cancel(actor=bob, msg_id=sent["msg_id"])
