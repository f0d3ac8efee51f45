"""REST interface of the directory: me, the org tree, people search. Thin: parse, call, render."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orgsync import selectors, services


class PersonOutput(serializers.Serializer):
    user_id = serializers.CharField()
    name = serializers.CharField()
    org_cd = serializers.CharField()
    org_name = serializers.CharField()
    nickname = serializers.CharField()
    job = serializers.CharField()
    tel_no = serializers.CharField()
    absence_code = serializers.CharField()
    absence_text = serializers.CharField()
    picture = serializers.BooleanField()
    online = serializers.BooleanField()
    kinds = serializers.ListField(child=serializers.CharField())


class MeOutput(PersonOutput):
    notify_off = serializers.BooleanField()
    hide_body = serializers.BooleanField()
    hide_sender = serializers.BooleanField()
    quiet_from = serializers.CharField(allow_null=True)
    quiet_to = serializers.CharField(allow_null=True)
    is_staff = serializers.BooleanField()


class MeApi(APIView):
    class MePatchInput(serializers.Serializer):
        nickname = serializers.CharField(max_length=100, allow_blank=True, required=False)
        notify_off = serializers.BooleanField(required=False)
        hide_body = serializers.BooleanField(required=False)
        hide_sender = serializers.BooleanField(required=False)
        quiet_from = serializers.TimeField(allow_null=True, required=False, format="%H:%M")
        quiet_to = serializers.TimeField(allow_null=True, required=False, format="%H:%M")

        def validate(self, attrs):
            extra = set(self.initial_data) - set(self.fields)
            if extra:
                raise serializers.ValidationError(
                    f"These fields cannot be changed here: {', '.join(sorted(extra))}"
                )
            return attrs

    @extend_schema(responses=MeOutput, operation_id="me_get")
    def get(self, request: Request) -> Response:
        return Response(selectors.me(user=request.user))

    @extend_schema(request=MePatchInput, responses=MeOutput, operation_id="me_update")
    def patch(self, request: Request) -> Response:
        data = self.MePatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.profile_update(user=request.user, changes=dict(data.validated_data))
        return Response(selectors.me(user=user))


class OrgNodeOutput(serializers.Serializer):
    org_cd = serializers.CharField()
    name = serializers.CharField()
    level = serializers.IntegerField()
    seq = serializers.CharField()
    parent = serializers.CharField(allow_null=True)
    users = PersonOutput(many=True)


class OrgTreeApi(APIView):
    @extend_schema(
        responses=inline_serializer("OrgTree", {"orgs": OrgNodeOutput(many=True)}),
        operation_id="org_tree",
    )
    def get(self, request: Request) -> Response:
        return Response({"orgs": selectors.org_tree()})


class UserSearchApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True)],
        responses=inline_serializer("People", {"users": PersonOutput(many=True)}),
        operation_id="users_search",
    )
    def get(self, request: Request) -> Response:
        return Response({"users": selectors.users_search(q=request.query_params.get("q"))})
