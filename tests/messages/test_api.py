"""REST of messages: send, history, read, readers, delete for me, cancel, search."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from messages import services as message_services
from messages.models import Message, MessageReceipt
from rooms.models import RoomMember
from tests.conftest import send
from tests.factories import new_msg_id
from tests.messages.helpers import assert_error, bodies


def post_message(client, room, **data):
    data.setdefault("msg_id", new_msg_id())
    return client.post(f"/api/rooms/{room.pk}/messages", data, format="json")


def messages_of(client, room, **params) -> dict:
    response = client.get(f"/api/rooms/{room.pk}/messages", params)
    assert response.status_code == 200, response.content
    return response.json()


# --- send -------------------------------------------------------------------------------------


def test_messages_post_is_201_and_a_retry_is_200_with_the_same_seq(api, bob, group, pushes):
    msg_id = new_msg_id()
    with pushes.committed():
        first = post_message(api(bob), group, msg_id=msg_id, body="보냈어요")
    with pushes.committed():
        retry = post_message(api(bob), group, msg_id=msg_id, body="보냈어요")

    assert first.status_code == 201
    assert retry.status_code == 200
    assert first.json()["seq"] == retry.json()["seq"] == 2
    assert first.json()["msg_id"] == retry.json()["msg_id"] == msg_id
    assert first.json()["body"] == "보냈어요"
    assert first.json()["sender"] == "bob"
    assert Message.objects.filter(room=group).count() == 2
    # The retry pushes the stored message again (its first push may have been lost with the
    # answer); it is the same message, which clients drop by msg_id.
    [(_, pushed), (_, again)] = pushes.of("message")
    assert pushed["msg_id"] == again["msg_id"] == msg_id and pushed["seq"] == again["seq"]


def test_messages_post_same_msg_id_elsewhere_is_409(api, alice, bob, group, direct):
    msg_id = new_msg_id()
    assert post_message(api(bob), group, msg_id=msg_id, body="그룹").status_code == 201

    assert_error(post_message(api(bob), direct, msg_id=msg_id, body="1:1"), 409, "conflict")
    assert_error(post_message(api(alice), group, msg_id=msg_id, body="남의 id"), 409, "conflict")
    assert Message.objects.count() == 2


def test_messages_post_reply_to_a_message_of_the_room(api, alice, bob, group):
    question = send(alice, group.pk, "질문")
    response = post_message(api(bob), group, body="답", reply_to=question["msg_id"])
    assert response.status_code == 201
    assert response.json()["reply_to"]["msg_id"] == question["msg_id"]
    assert response.json()["reply_to"]["body"] == "질문"


@pytest.mark.parametrize(
    "payload",
    [
        {"body": "msg_id 없음"},
        {"msg_id": "not-a-uuid", "body": "x"},
        {"msg_id": "", "body": "x"},
        {"msg_id": None, "body": "x"},
        {"msg_id": ["x"], "body": "x"},
        {"msg_id": "a" * 65, "body": "x"},
        {"msg_id": "@new"},
        {"msg_id": "@new", "body": ""},
        {"msg_id": "@new", "body": "   "},
        {"msg_id": "@new", "body": None},
        {"msg_id": "@new", "body": {"text": "x"}},
        {"msg_id": "@new", "body": "nul\x00inside"},
        {"msg_id": "@new", "body": "@too-long"},
        {"msg_id": "@new", "body": "x", "type": "invite"},
        {"msg_id": "@new", "body": "x", "type": "notice"},
        {"msg_id": "@new", "body": "x", "reply_to": "not-a-uuid"},
        {"msg_id": "@new", "body": "x", "reply_to": "@unknown"},
        {"msg_id": "@new", "body": "x", "reply_to": ["x"]},
        ["x"],
    ],
    ids=repr,
)
def test_messages_post_bad_input_is_400_and_stores_nothing(api, bob, group, settings, payload):
    if isinstance(payload, dict):
        payload = dict(payload)
        replacements = {
            "@new": new_msg_id(),
            "@unknown": str(uuid.uuid4()),
            "@too-long": "가" * (settings.MESSENGER["BODY_MAX_CHARS"] + 1),
        }
        for key, value in payload.items():
            if isinstance(value, str) and value in replacements:
                payload[key] = replacements[value]
    response = api(bob).post(f"/api/rooms/{group.pk}/messages", payload, format="json")

    assert_error(response, 400, "invalid")
    assert Message.objects.filter(room=group).count() == 1
    group.refresh_from_db()
    assert group.last_seq == 1


def test_messages_post_errors_name_the_field(api, bob, group):
    missing = assert_error(post_message(api(bob), group), 400, "invalid")
    assert missing["message"].startswith("body:")
    bad_id = assert_error(post_message(api(bob), group, msg_id="x", body="b"), 400, "invalid")
    assert "msg_id" in bad_id["message"]
    empty = assert_error(post_message(api(bob), group, body=" "), 400, "invalid")
    assert "body" in empty["message"]


def test_messages_post_body_at_the_limit_is_accepted(api, bob, group, settings):
    body = "가" * settings.MESSENGER["BODY_MAX_CHARS"]
    response = post_message(api(bob), group, body=body)
    assert response.status_code == 201
    assert response.json()["body"] == body


def test_messages_post_reply_to_another_rooms_message_is_400(api, alice, group, direct):
    elsewhere = send(alice, direct.pk, "1:1의 말")
    response = post_message(api(alice), group, body="답", reply_to=elsewhere["msg_id"])
    assert_error(response, 400, "invalid")
    assert Message.objects.filter(room=group).count() == 1


# --- history ----------------------------------------------------------------------------------


def test_messages_get_pages_with_before_after_and_limit(api, alice, bob, group):
    for n in range(6):
        send(alice, group.pk, f"m{n}")
    client = api(bob)

    newest = messages_of(client, group, limit=3)
    assert bodies(newest) == ["m3", "m4", "m5"]
    assert newest["has_more"] is True
    assert newest["last_seq"] == 7

    older = messages_of(client, group, before_seq=newest["messages"][0]["seq"], limit=3)
    assert bodies(older) == ["m0", "m1", "m2"]
    assert older["has_more"] is True
    oldest = messages_of(client, group, before_seq=older["messages"][0]["seq"], limit=3)
    assert [m["type"] for m in oldest["messages"]] == ["invite"]
    assert oldest["has_more"] is False

    caught_up = messages_of(client, group, after_seq=4)
    assert bodies(caught_up) == ["m3", "m4", "m5"]
    assert caught_up["has_more"] is False


def test_messages_get_hides_what_i_deleted_and_cancelled_bodies(api, alice, bob, group):
    mine_gone = send(alice, group.pk, "밥이 지운 말")
    cancelled = send(alice, group.pk, "취소된 말")
    client = api(bob)
    assert client.delete(f"/api/messages/{mine_gone['msg_id']}").status_code == 204
    assert api(alice).post(f"/api/messages/{cancelled['msg_id']}/cancel").status_code == 200

    page = messages_of(client, group)
    assert "밥이 지운 말" not in bodies(page)
    shown = {m["msg_id"]: m for m in page["messages"]}
    assert shown[cancelled["msg_id"]]["body"] == ""
    assert shown[cancelled["msg_id"]]["state"] == "cancelled"
    assert "밥이 지운 말" in bodies(messages_of(api(alice), group))


@pytest.mark.parametrize(
    "params",
    [
        {"before_seq": "abc"},
        {"before_seq": "-1"},
        {"after_seq": "1e3"},
        {"after_seq": "-2"},
        {"limit": "many"},
        {"limit": "-1"},
    ],
    ids=repr,
)
def test_messages_get_bad_params_are_400(api, bob, group, params):
    response = api(bob).get(f"/api/rooms/{group.pk}/messages", params)
    assert_error(response, 400, "invalid")


def test_messages_get_huge_cursor_is_an_empty_page_not_an_error(api, bob, group):
    page = messages_of(api(bob), group, after_seq=str(10**30))
    assert page["messages"] == []
    page = messages_of(api(bob), group, before_seq=str(10**30))
    assert [m["seq"] for m in page["messages"]] == [1]


# --- read and readers -------------------------------------------------------------------------


def test_room_read_post_raises_my_watermark_and_the_unread_counts(api, alice, bob, carol, group):
    sent = [send(alice, group.pk, f"m{n}") for n in range(3)]

    response = api(bob).post(f"/api/rooms/{group.pk}/read", {"seq": 3}, format="json")

    assert response.status_code == 200
    assert response.json() == {"room_id": group.pk, "last_read_seq": 3}
    rooms = {r["room_id"]: r for r in api(bob).get("/api/rooms").json()["rooms"]}
    assert rooms[group.pk]["unread"] == 1
    page = messages_of(api(alice), group)
    unread = {m["msg_id"]: m["unread"] for m in page["messages"]}
    assert unread[sent[0]["msg_id"]] == 1
    assert unread[sent[2]["msg_id"]] == 2
    lower = api(bob).post(f"/api/rooms/{group.pk}/read", {"seq": 1}, format="json")
    assert lower.json()["last_read_seq"] == 3
    beyond = api(bob).post(f"/api/rooms/{group.pk}/read", {"seq": 999}, format="json")
    assert beyond.json()["last_read_seq"] == 4


@pytest.mark.parametrize(
    "payload", [{}, {"seq": -1}, {"seq": "abc"}, {"seq": 1.5}, {"seq": None}, [3]], ids=repr
)
def test_room_read_post_bad_seq_is_400(api, bob, group, payload):
    response = api(bob).post(f"/api/rooms/{group.pk}/read", payload, format="json")
    assert_error(response, 400, "invalid")
    assert RoomMember.objects.get(room=group, user=bob).last_read_seq == 0


def test_message_readers_get_lists_read_and_unread(api, alice, bob, carol, group):
    sent = send(alice, group.pk, "읽었나요")
    api(carol).post(f"/api/rooms/{group.pk}/read", {"seq": sent["seq"]}, format="json")

    response = api(bob).get(f"/api/messages/{sent['msg_id']}/readers")

    assert response.status_code == 200
    body = response.json()
    assert {p["user_id"] for p in body["read"]} == {"alice", "carol"}
    assert body["unread"] == [{"user_id": "bob", "name": "밥"}]
    assert body["seq"] == sent["seq"]


def test_message_readers_bad_or_unknown_msg_id(api, bob, group):
    assert_error(api(bob).get("/api/messages/not-a-uuid/readers"), 400, "invalid")
    assert_error(api(bob).get(f"/api/messages/{uuid.uuid4()}/readers"), 404, "not_found")


# --- delete for me, cancel --------------------------------------------------------------------


def test_message_delete_is_204_and_only_for_me(api, alice, bob, group):
    sent = send(alice, group.pk, "지워 주세요")

    response = api(bob).delete(f"/api/messages/{sent['msg_id']}")

    assert response.status_code == 204
    assert "지워 주세요" not in bodies(messages_of(api(bob), group))
    assert "지워 주세요" in bodies(messages_of(api(alice), group))
    assert MessageReceipt.objects.filter(user=bob).count() == 1


def test_message_delete_bad_or_unknown_msg_id(api, bob, group):
    assert_error(api(bob).delete("/api/messages/12345"), 400, "invalid")
    assert_error(api(bob).delete(f"/api/messages/{uuid.uuid4()}"), 404, "not_found")


def test_message_cancel_by_the_sender_within_the_window(api, alice, bob, group):
    sent = send(bob, group.pk, "취소할래요")
    Message.objects.filter(msg_id=sent["msg_id"]).update(
        created_at=timezone.now() - timedelta(hours=23)
    )

    response = api(bob).post(f"/api/messages/{sent['msg_id']}/cancel")

    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    shown = {m["msg_id"]: m for m in messages_of(api(alice), group)["messages"]}
    assert shown[sent["msg_id"]]["body"] == ""
    rooms = {r["room_id"]: r for r in api(alice).get("/api/rooms").json()["rooms"]}
    assert rooms[group.pk]["last_message"]["body"] == ""


def test_message_cancel_after_24_hours_is_409(api, bob, group):
    sent = send(bob, group.pk, "너무 늦음")
    Message.objects.filter(msg_id=sent["msg_id"]).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert_error(api(bob).post(f"/api/messages/{sent['msg_id']}/cancel"), 409, "conflict")
    assert Message.objects.get(msg_id=sent["msg_id"]).state == ""


def test_message_cancel_by_another_member_is_403(api, alice, bob, group):
    sent = send(bob, group.pk, "밥의 말")
    assert_error(api(alice).post(f"/api/messages/{sent['msg_id']}/cancel"), 403, "not_sender")


def test_message_cancel_of_a_system_line_is_refused(api, alice, group):
    line = Message.objects.get(room=group, type=Message.Type.INVITE)
    response = api(alice).post(f"/api/messages/{line.msg_id}/cancel")
    assert_error(response, 400, "invalid")
    line.refresh_from_db()
    assert line.state == ""


def test_message_cancel_bad_msg_id_is_400(api, bob):
    assert_error(api(bob).post("/api/messages/zzz/cancel"), 400, "invalid")


# --- search -----------------------------------------------------------------------------------


def test_search_get_finds_korean_text_in_my_rooms(api, alice, bob, carol, dave, group, direct):
    send(alice, group.pk, "내일 회의실 예약했습니다")
    send(bob, direct.pk, "회의실 어디예요?")
    send(alice, group.pk, "점심은 김밥")
    secret, _ = message_services.room_create(actor=dave, member_ids=[carol.user_id, alice.user_id])
    send(dave, secret.pk, "회의실 비밀 이야기")

    found = api(bob).get("/api/search", {"q": "회의실"})

    assert found.status_code == 200
    assert bodies(found.json()) == ["회의실 어디예요?", "내일 회의실 예약했습니다"]
    in_group = api(bob).get("/api/search", {"q": "회의실", "room_id": group.pk})
    assert bodies(in_group.json()) == ["내일 회의실 예약했습니다"]


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "   "}, {"q": "가" * 101}, {"q": "x", "room_id": "abc"}],
    ids=repr,
)
def test_search_get_bad_params_are_400(api, bob, group, params):
    assert_error(api(bob).get("/api/search", params), 400, "invalid")
