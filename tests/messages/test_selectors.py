"""Reads of messages: history pages and catch-up, readers, search."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messages import selectors, services
from messenger.errors import InvalidInput, NotFound, NotRoomMember
from tests.conftest import send
from tests.messages.helpers import bodies


@pytest.fixture
def ten(alice, bob, group) -> list[dict]:
    """Ten talks m0..m9 in the group, seq 2..11 (seq 1 is the invite line)."""
    return [send(alice if n % 2 else bob, group.pk, f"m{n}") for n in range(10)]


# --- history ----------------------------------------------------------------------------------


def test_messages_page_without_cursor_gives_the_newest_page_oldest_first(bob, group, ten):
    page = selectors.messages_page(user=bob, room_id=group.pk, limit=4)

    assert bodies(page) == ["m6", "m7", "m8", "m9"]
    assert [m["seq"] for m in page["messages"]] == [8, 9, 10, 11]
    assert page["has_more"] is True
    assert page["last_seq"] == 11
    assert page["room_id"] == group.pk


def test_messages_page_before_seq_scrolls_up_to_the_first_message(bob, group, ten):
    page = selectors.messages_page(user=bob, room_id=group.pk, before_seq=8, limit=4)
    assert [m["seq"] for m in page["messages"]] == [4, 5, 6, 7]
    assert page["has_more"] is True

    page = selectors.messages_page(user=bob, room_id=group.pk, before_seq=4, limit=4)
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3]
    assert page["messages"][0]["type"] == "invite"
    assert page["has_more"] is False


def test_messages_page_after_seq_catches_up_oldest_first(bob, group, ten):
    page = selectors.messages_page(user=bob, room_id=group.pk, after_seq=5, limit=3)
    assert [m["seq"] for m in page["messages"]] == [6, 7, 8]
    assert page["has_more"] is True

    page = selectors.messages_page(user=bob, room_id=group.pk, after_seq="8", limit="3")
    assert [m["seq"] for m in page["messages"]] == [9, 10, 11]
    assert page["has_more"] is False

    page = selectors.messages_page(user=bob, room_id=group.pk, after_seq=11)
    assert page["messages"] == []
    assert page["has_more"] is False


def test_messages_page_catch_up_after_missing_pushes_loses_nothing(alice, bob, group):
    seen = selectors.messages_page(user=bob, room_id=group.pk)["last_seq"]
    sent = [send(alice, group.pk, f"while away {n}") for n in range(5)]

    page = selectors.messages_page(user=bob, room_id=group.pk, after_seq=seen)

    assert [m["msg_id"] for m in page["messages"]] == [m["msg_id"] for m in sent]


def test_messages_page_limit_is_capped(bob, group, ten, settings):
    settings.MESSENGER = {**settings.MESSENGER, "HISTORY_PAGE_MAX": 5}
    page = selectors.messages_page(user=bob, room_id=group.pk, limit=1000)
    assert len(page["messages"]) == 5
    assert page["has_more"] is True


def test_messages_page_limit_zero_gives_one_message_not_the_default_page(bob, group, ten):
    page = selectors.messages_page(user=bob, room_id=group.pk, limit="0")
    assert bodies(page) == ["m9"]
    assert page["has_more"] is True


def test_messages_page_default_limit(bob, group, ten, settings):
    settings.MESSENGER = {**settings.MESSENGER, "HISTORY_PAGE_DEFAULT": 3}
    assert bodies(selectors.messages_page(user=bob, room_id=group.pk)) == ["m7", "m8", "m9"]


@pytest.mark.parametrize(
    "params",
    [
        {"before_seq": "abc"},
        {"before_seq": "-1"},
        {"after_seq": -5},
        {"after_seq": "1.5"},
        {"limit": "ten"},
        {"limit": "-3"},
    ],
    ids=repr,
)
def test_messages_page_bad_cursor_refused(bob, group, params):
    with pytest.raises(InvalidInput):
        selectors.messages_page(user=bob, room_id=group.pk, **params)


def test_messages_page_for_a_stranger_leaver_or_unknown_room_refused(carol, make_user, group):
    with pytest.raises(NotRoomMember):
        selectors.messages_page(user=make_user(), room_id=group.pk)
    with pytest.raises(NotFound):
        selectors.messages_page(user=carol, room_id=group.pk + 1000)
    with pytest.raises(NotFound):
        selectors.messages_page(user=carol, room_id="abc")
    services.room_leave(actor=carol, room_id=group.pk)
    with pytest.raises(NotRoomMember):
        selectors.messages_page(user=carol, room_id=group.pk)


def test_messages_page_query_count_does_not_grow_with_the_page(alice, bob, group):
    def page_queries(limit: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            page = selectors.messages_page(user=bob, room_id=group.pk, limit=limit)
        assert len(page["messages"]) == limit
        return len(captured.captured_queries)

    first = send(alice, group.pk, "원문")
    for n in range(30):
        send(alice if n % 2 else bob, group.pk, f"답 {n}", reply_to=first["msg_id"])

    assert page_queries(3) == page_queries(30)


# --- readers ----------------------------------------------------------------------------------


def test_message_readers_lists_who_read_and_who_has_not(alice, bob, carol, dave, group):
    sent = send(alice, group.pk, "다들 보셨나요?")
    services.room_read(actor=bob, room_id=group.pk, seq=sent["seq"])
    services.room_invite(actor=alice, room_id=group.pk, user_ids=[dave.user_id])

    readers = selectors.message_readers(user=carol, msg_id=sent["msg_id"])

    assert readers["msg_id"] == sent["msg_id"]
    assert readers["seq"] == sent["seq"]
    assert {p["user_id"] for p in readers["read"]} == {"alice", "bob"}
    # Dave joined later: the message was never his to read.
    assert [p["user_id"] for p in readers["unread"]] == ["carol"]

    services.room_read(actor=carol, room_id=group.pk, seq=sent["seq"])
    readers = selectors.message_readers(user=alice, msg_id=sent["msg_id"])
    assert readers["unread"] == []


def test_message_readers_of_a_message_before_i_joined_not_found(alice, dave, group):
    sent = send(alice, group.pk, "데이브 오기 전")
    services.room_invite(actor=alice, room_id=group.pk, user_ids=[dave.user_id])
    with pytest.raises(NotFound):
        selectors.message_readers(user=dave, msg_id=sent["msg_id"])


def test_message_readers_refused_to_strangers_and_bad_ids(alice, make_user, group):
    sent = send(alice, group.pk, "비밀")
    # A stranger is told what an unknown message is told: nothing about what exists.
    with pytest.raises(NotFound) as foreign:
        selectors.message_readers(user=make_user(), msg_id=sent["msg_id"])
    with pytest.raises(NotFound) as unknown:
        selectors.message_readers(user=alice, msg_id=uuid.uuid4())
    assert foreign.value.as_dict() == unknown.value.as_dict()
    with pytest.raises(InvalidInput):
        selectors.message_readers(user=alice, msg_id="not-a-uuid")


# --- search -----------------------------------------------------------------------------------


def test_messages_search_finds_my_messages_newest_first(alice, bob, group, direct):
    send(alice, group.pk, "회의는 3시입니다")
    send(bob, direct.pk, "회의 자료 보냈어요")
    send(bob, group.pk, "점심 먹자")

    found = selectors.messages_search(user=bob, q="회의")

    assert [m["body"] for m in found] == ["회의 자료 보냈어요", "회의는 3시입니다"]
    only_group = selectors.messages_search(user=bob, q="회의", room_id=group.pk)
    assert [m["body"] for m in only_group] == ["회의는 3시입니다"]


def test_messages_search_skips_rooms_i_am_not_in(alice, bob, dave, group):
    send(alice, group.pk, "보안 사항")
    assert selectors.messages_search(user=dave, q="보안") == []
    with pytest.raises(NotRoomMember):
        selectors.messages_search(user=dave, q="보안", room_id=group.pk)


def test_messages_search_skips_messages_before_i_joined(alice, dave, group):
    send(alice, group.pk, "예산 이전 논의")
    services.room_invite(actor=alice, room_id=group.pk, user_ids=[dave.user_id])
    send(alice, group.pk, "예산 확정")

    found = selectors.messages_search(user=dave, q="예산")

    assert [m["body"] for m in found] == ["예산 확정"]


def test_messages_search_skips_rooms_i_left(alice, carol, group):
    send(alice, group.pk, "퇴장 전 메시지")
    services.room_leave(actor=carol, room_id=group.pk)
    assert selectors.messages_search(user=carol, q="퇴장") == []


def test_messages_search_skips_deleted_for_me_and_cancelled(alice, bob, group):
    deleted = send(alice, group.pk, "검색어 하나")
    cancelled = send(bob, group.pk, "검색어 둘")
    send(alice, group.pk, "검색어 셋")
    services.message_delete_for_me(actor=bob, msg_id=deleted["msg_id"])
    services.message_cancel(actor=bob, msg_id=cancelled["msg_id"])

    assert [m["body"] for m in selectors.messages_search(user=bob, q="검색어")] == ["검색어 셋"]
    assert [m["body"] for m in selectors.messages_search(user=alice, q="검색어")] == [
        "검색어 셋",
        "검색어 하나",
    ]


def test_messages_search_skips_system_lines(alice, bob, group):
    # The invite line names 밥; only what people wrote is searched.
    assert selectors.messages_search(user=alice, q="초대") == []


def test_messages_search_treats_wildcards_as_text(alice, bob, group):
    send(alice, group.pk, "100% 완료")
    send(alice, group.pk, "1000 완료")
    assert [m["body"] for m in selectors.messages_search(user=bob, q="0%")] == ["100% 완료"]


def test_messages_search_unread_counts_per_room(alice, bob, carol, group, direct):
    in_group = send(alice, group.pk, "공지 그룹")
    in_direct = send(alice, direct.pk, "공지 1:1")
    services.room_read(actor=carol, room_id=group.pk, seq=in_group["seq"])

    found = {m["msg_id"]: m["unread"] for m in selectors.messages_search(user=alice, q="공지")}

    assert found == {in_group["msg_id"]: 1, in_direct["msg_id"]: 1}
    services.room_read(actor=bob, room_id=direct.pk, seq=in_direct["seq"])
    found = {m["msg_id"]: m["unread"] for m in selectors.messages_search(user=alice, q="공지")}
    assert found == {in_group["msg_id"]: 1, in_direct["msg_id"]: 0}


def test_messages_search_query_count_does_not_grow_with_the_rooms_found(alice, make_user):
    def search_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            found = selectors.messages_search(user=alice, q="찾기")
        return len(captured.captured_queries), len(found)

    def room_with_hit() -> None:
        peer = make_user()
        room, _ = services.room_open_direct(actor=alice, peer=peer)
        send(peer, room.pk, "찾기 대상")

    for _ in range(2):
        room_with_hit()
    few, found_few = search_queries()
    for _ in range(8):
        room_with_hit()
    many, found_many = search_queries()

    assert (found_few, found_many) == (2, 10)
    assert many == few


@pytest.mark.parametrize("q", [None, "", "   ", "가" * 101, 5])
def test_messages_search_bad_query_refused(bob, group, q):
    with pytest.raises(InvalidInput):
        selectors.messages_search(user=bob, q=q)


def test_messages_search_room_id_not_a_number_refused(bob, group):
    with pytest.raises(InvalidInput):
        selectors.messages_search(user=bob, q="x", room_id="abc")
