"""REST interface of notifications: a browser's Web Push subscription and the server's VAPID
public key. Thin: parse, call, render."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messenger.errors import NotFound
from messenger.schema import error_responses
from notifications import services, webpush


class PushSubscriptionsApi(APIView):
    class AddInput(serializers.Serializer):
        endpoint = serializers.CharField(max_length=700)
        keys = serializers.DictField(child=serializers.CharField(max_length=200))

    class RemoveInput(serializers.Serializer):
        endpoint = serializers.CharField(max_length=700)

    @extend_schema(
        request=AddInput,
        responses={
            201: inline_serializer("PushSubscriptionOutput", {"endpoint": serializers.CharField()})
        },
        operation_id="push_subscription_add",
    )
    def post(self, request: Request) -> Response:
        data = self.AddInput(data=request.data)
        data.is_valid(raise_exception=True)
        keys = data.validated_data["keys"]
        subscription = services.push_subscription_add(
            user=request.user,
            endpoint=data.validated_data["endpoint"],
            p256dh=keys.get("p256dh"),
            auth=keys.get("auth"),
        )
        return Response({"endpoint": subscription.endpoint}, status=201)

    @extend_schema(
        request=RemoveInput,
        # OpenAPI generators leave out DELETE bodies, so the endpoint's absence is a 400.
        responses={204: OpenApiResponse(description="removed"), **error_responses(400)},
        operation_id="push_subscription_remove",
        description='The JSON body names the subscription: {"endpoint": "..."}.',
    )
    def delete(self, request: Request) -> Response:
        data = self.RemoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.push_subscription_remove(
            user=request.user, endpoint=data.validated_data["endpoint"]
        )
        return Response(status=204)


class VapidPublicKeyApi(APIView):
    @extend_schema(
        responses={
            200: inline_serializer("VapidPublicKeyOutput", {"public_key": serializers.CharField()}),
            **error_responses(404),
        },
        description="404 when Web Push is not configured on this server.",
        operation_id="push_vapid_public_key",
    )
    def get(self, request: Request) -> Response:
        key = webpush.public_key()
        if key is None:
            raise NotFound("Web Push is not configured on this server.")
        return Response({"public_key": key})
