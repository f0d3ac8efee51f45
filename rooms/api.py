"""REST interface of a room's own settings: details, rename (for me / for everyone), mute."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rooms import selectors, services


class MemberPreviewOutput(serializers.Serializer):
    user_id = serializers.CharField()
    name = serializers.CharField()


class LastMessageOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    type = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    state = serializers.CharField(allow_blank=True)
    sender = serializers.CharField(allow_null=True)
    sender_name = serializers.CharField(allow_null=True)
    created = serializers.DateTimeField(allow_null=True)


class RoomOutput(serializers.Serializer):
    room_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["direct", "group"])
    name = serializers.CharField(help_text="My nickname for the room, its name, or member names.")
    room_name = serializers.CharField(allow_blank=True)
    nickname = serializers.CharField(allow_blank=True)
    master = serializers.CharField(allow_null=True)
    member_count = serializers.IntegerField()
    members = MemberPreviewOutput(many=True)
    muted = serializers.BooleanField()
    last_seq = serializers.IntegerField()
    last_read_seq = serializers.IntegerField()
    unread = serializers.IntegerField()
    last_message = LastMessageOutput(allow_null=True)
    created = serializers.DateTimeField()


class RoomDetailApi(APIView):
    class RoomPatchInput(serializers.Serializer):
        nickname = serializers.CharField(allow_blank=True, max_length=100, required=False)
        muted = serializers.BooleanField(required=False)
        name = serializers.CharField(allow_blank=True, max_length=100, required=False)

        def validate(self, attrs):
            # An unknown field is most likely a typo: refuse it rather than half-apply the PATCH.
            extra = set(self.initial_data) - set(self.fields)
            if extra:
                raise serializers.ValidationError(
                    f"These fields cannot be changed here: {', '.join(sorted(extra))}"
                )
            if not attrs:
                raise serializers.ValidationError("Give nickname, muted or name.")
            return attrs

    @extend_schema(responses=RoomOutput, operation_id="room_get")
    def get(self, request: Request, room_id: int) -> Response:
        return Response(selectors.room_detail(user=request.user, room_id=room_id))

    @extend_schema(request=RoomPatchInput, responses=RoomOutput, operation_id="room_update")
    def patch(self, request: Request, room_id: int) -> Response:
        data = self.RoomPatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.room_update(actor=request.user, room_id=room_id, **data.validated_data)
        return Response(selectors.room_detail(user=request.user, room_id=room_id))
