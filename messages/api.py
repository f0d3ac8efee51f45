"""REST interface of rooms with members and of messages. Thin: parse, call the same service
the WebSocket gateway calls, render."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messages import selectors, services
from messenger.schema import error_responses
from rooms import selectors as room_selectors
from rooms.api import RoomOutput


class ReplyOutput(serializers.Serializer):
    msg_id = serializers.UUIDField()
    seq = serializers.IntegerField()
    sender = serializers.CharField(allow_null=True)
    sender_name = serializers.CharField(allow_null=True)
    type = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    state = serializers.CharField(allow_blank=True)


class MessageOutput(serializers.Serializer):
    room_id = serializers.IntegerField()
    seq = serializers.IntegerField()
    msg_id = serializers.UUIDField()
    sender = serializers.CharField(allow_null=True)
    sender_name = serializers.CharField(allow_null=True)
    type = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    meta = serializers.DictField()
    reply_to = ReplyOutput(allow_null=True)
    state = serializers.CharField(allow_blank=True)
    created = serializers.DateTimeField()
    unread = serializers.IntegerField()


class MessageInput(serializers.Serializer):
    """The fields of send_msg; the service checks body, msg_id and reply_to itself so that the
    socket and REST refuse bad input alike."""

    msg_id = serializers.CharField(max_length=64)
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)
    type = serializers.CharField(required=False, default="talk")
    reply_to = serializers.CharField(required=False, allow_null=True, allow_blank=True)


def _room_for(request: Request, room_id: int) -> dict:
    member = room_selectors.membership_get(user=request.user, room_id=room_id)
    return room_selectors.room_summary_for(member=member)


class RoomListCreateApi(APIView):
    class RoomCreateInput(serializers.Serializer):
        member_ids = serializers.ListField(
            child=serializers.CharField(max_length=64), allow_empty=True
        )
        name = serializers.CharField(allow_blank=True, required=False, default="", max_length=100)

    @extend_schema(
        responses=inline_serializer("RoomList", {"rooms": RoomOutput(many=True)}),
        operation_id="rooms_list",
    )
    def get(self, request: Request) -> Response:
        return Response({"rooms": room_selectors.rooms_for_user(user=request.user)})

    @extend_schema(
        request=RoomCreateInput,
        # 409: two people opened their 1:1 room at the same moment; try again.
        responses={200: RoomOutput, 201: RoomOutput, **error_responses(409)},
    )
    def post(self, request: Request) -> Response:
        data = self.RoomCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        room, created = services.room_create(actor=request.user, **data.validated_data)
        return Response(
            _room_for(request, room.pk),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RoomInviteApi(APIView):
    class InviteInput(serializers.Serializer):
        user_ids = serializers.ListField(child=serializers.CharField(max_length=64))

    @extend_schema(
        request=InviteInput,
        responses=inline_serializer(
            "InviteResult", {"room": RoomOutput(), "message": MessageOutput(allow_null=True)}
        ),
    )
    def post(self, request: Request, room_id: int) -> Response:
        data = self.InviteInput(data=request.data)
        data.is_valid(raise_exception=True)
        room, message = services.room_invite(
            actor=request.user, room_id=room_id, user_ids=data.validated_data["user_ids"]
        )
        return Response({"room": _room_for(request, room.pk), "message": message})


class RoomLeaveApi(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, room_id: int) -> Response:
        services.room_leave(actor=request.user, room_id=room_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomMessagesApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("before_seq", int),
            OpenApiParameter("after_seq", int),
            OpenApiParameter("limit", int),
        ],
        responses=inline_serializer(
            "MessagePage",
            {
                "room_id": serializers.IntegerField(),
                "last_seq": serializers.IntegerField(),
                "last_read_seq": serializers.IntegerField(),
                "messages": MessageOutput(many=True),
                "has_more": serializers.BooleanField(),
            },
        ),
        operation_id="room_messages",
    )
    def get(self, request: Request, room_id: int) -> Response:
        params = request.query_params
        return Response(
            selectors.messages_page(
                user=request.user,
                room_id=room_id,
                before_seq=params.get("before_seq"),
                after_seq=params.get("after_seq"),
                limit=params.get("limit"),
            )
        )

    @extend_schema(
        request=MessageInput,
        # 409: the msg_id is already used by another message.
        responses={200: MessageOutput, 201: MessageOutput, **error_responses(409)},
    )
    def post(self, request: Request, room_id: int) -> Response:
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        payload, created = services.message_send(
            actor=request.user, room_id=room_id, **data.validated_data
        )
        return Response(payload, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class RoomReadApi(APIView):
    class ReadInput(serializers.Serializer):
        seq = serializers.IntegerField(min_value=0)

    @extend_schema(
        request=ReadInput,
        responses=inline_serializer(
            "ReadResult",
            {"room_id": serializers.IntegerField(), "last_read_seq": serializers.IntegerField()},
        ),
    )
    def post(self, request: Request, room_id: int) -> Response:
        data = self.ReadInput(data=request.data)
        data.is_valid(raise_exception=True)
        seq = services.room_read(
            actor=request.user, room_id=room_id, seq=data.validated_data["seq"]
        )
        return Response({"room_id": room_id, "last_read_seq": seq})


class PersonRef(serializers.Serializer):
    user_id = serializers.CharField()
    name = serializers.CharField()


class MessageReadersApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Readers",
            {
                "msg_id": serializers.UUIDField(),
                "room_id": serializers.IntegerField(),
                "seq": serializers.IntegerField(),
                "read": PersonRef(many=True),
                "unread": PersonRef(many=True),
            },
        )
    )
    def get(self, request: Request, msg_id: str) -> Response:
        return Response(selectors.message_readers(user=request.user, msg_id=msg_id))


class MessageDeleteApi(APIView):
    @extend_schema(responses={204: None}, operation_id="message_delete_for_me")
    def delete(self, request: Request, msg_id: str) -> Response:
        services.message_delete_for_me(actor=request.user, msg_id=msg_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageCancelApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "MessageUpdated",
                {
                    "msg_id": serializers.UUIDField(),
                    "room_id": serializers.IntegerField(),
                    "seq": serializers.IntegerField(),
                    "state": serializers.CharField(),
                },
            ),
            # 409: too late to cancel (the cancel window has passed).
            **error_responses(409),
        },
    )
    def post(self, request: Request, msg_id: str) -> Response:
        return Response(services.message_cancel(actor=request.user, msg_id=msg_id))


class SearchApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True),
            OpenApiParameter("room_id", int),
            OpenApiParameter("limit", int),
        ],
        responses={
            200: inline_serializer("SearchResult", {"messages": MessageOutput(many=True)}),
            # room_id names a room: unknown, or not yours (the same 404).
            **error_responses(404),
        },
        operation_id="messages_search",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        return Response(
            {
                "messages": selectors.messages_search(
                    user=request.user,
                    q=params.get("q"),
                    room_id=params.get("room_id"),
                    limit=params.get("limit"),
                )
            }
        )
