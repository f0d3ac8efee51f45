"""REST interface of the directory: login, me and my picture, the org tree, people search,
profiles and pictures. Thin: parse, call, render."""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import FileResponse, HttpResponse, HttpResponseBase
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenObtainSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from messenger.errors import DirectoryUnavailable, InvalidInput, RateLimited
from messenger.ratelimit import rate_limit_check, rate_limit_clear, rate_limit_record
from messenger.schema import error_responses
from orgsync import selectors, services, sessions
from orgsync.errors import RefreshTokenInvalid, SessionEnded, WrongPassword
from orgsync.models import LoginSession, User
from orgsync.pictures import CONTENT_TYPE

PICTURE_FIELD = "picture"


def _login_key(user_id: Any) -> str | None:
    """The failed-login counter's key for a user id as typed: case-folded (the database
    compares ids without case) and hashed (no raw input in cache keys)."""
    if not isinstance(user_id, str) or not user_id.strip():
        return None
    return hashlib.sha256(user_id.strip().casefold().encode()).hexdigest()[:32]


class PasswordSerializer(TokenObtainSerializer):
    """simplejwt's check of user id and password (authenticate, active account), without
    issuing tokens: every sign-on method issues them through services.login_tokens."""


class LoginApi(TokenObtainPairView):
    """POST /api/auth/token: simplejwt's login, with every attempt written to the action log.

    A malformed request (a field missing) is a 400 and is not an attempt; a refused one (unknown
    account, wrong password, deactivated account) is logged as login_fail with the reason and
    counted against the user id and the client address. Past RATE_LIMITS login_user or login_ip
    failures, attempts are refused with 429 (logged as `locked`) without trying the password.
    When the company directory checks the password (orgsync/auth_backends.py) and cannot be
    reached, the answer is 503 directory_unavailable, logged as `dir_down` and not counted.
    """

    serializer_class = PasswordSerializer

    @extend_schema(
        responses={200: TokenObtainPairSerializer, **error_responses(400, 401, 429, 503)}
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        data = request.data if hasattr(request.data, "get") else {}
        attempt = {
            "user_id": data.get(User.USERNAME_FIELD),
            "device": data.get("kind"),
            "address": request.META.get("REMOTE_ADDR", ""),
        }
        user_key = _login_key(attempt["user_id"])
        try:
            rate_limit_check(scope="login_ip", key=attempt["address"])
            if user_key:
                rate_limit_check(scope="login_user", key=user_key)
        except RateLimited:
            services.login_record(ok=False, locked=True, **attempt)
            raise
        try:
            serializer.is_valid(raise_exception=True)
        except AuthenticationFailed:
            services.login_record(ok=False, **attempt)
            rate_limit_record(scope="login_ip", key=attempt["address"])
            if user_key:
                rate_limit_record(scope="login_user", key=user_key)
            raise
        except DirectoryUnavailable:
            # Nobody's fault but the directory's: logged, not counted against the limits.
            services.login_record(ok=False, unreachable=True, **attempt)
            raise
        except TokenError as error:
            raise InvalidToken(error.args[0]) from error
        services.login_record(ok=True, **attempt)
        if user_key:
            rate_limit_clear(scope="login_user", key=user_key)
        tokens = services.login_tokens(
            user=serializer.user,
            method="password",
            device=attempt["device"],
            address=attempt["address"],
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(tokens)


class RefreshSerializer(TokenRefreshSerializer):
    """POST /api/auth/token/refresh: simplejwt's refresh, also refusing a refresh token issued
    before the account's password changed (simplejwt checks that for access tokens only) and
    one whose session has ended (401 session_ended); a refresh is the session's last seen."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refresh = self.token_class(attrs["refresh"])
        user = User.objects.filter(pk=refresh.payload.get(jwt_settings.USER_ID_CLAIM)).first()
        if user is not None and not selectors.token_password_current(
            claims=refresh.payload, password=user.password
        ):
            # The same answer as simplejwt gives such an access token.
            raise AuthenticationFailed(_("The user's password has been changed."))
        sid = sessions.claimed_sid(refresh.payload)
        if (
            sid is not None
            and user is not None
            and not sessions.session_refreshed(sid=sid, user_pk=user.pk)
        ):
            raise AuthenticationFailed(SessionEnded.message, code=SessionEnded.code)
        return super().validate(attrs)


class TokenRefreshApi(TokenRefreshView):
    """POST /api/auth/token/refresh: simplejwt's refresh through RefreshSerializer (the
    TOKEN_REFRESH_SERIALIZER setting); an invalid, expired or revoked refresh token is a 401."""

    @extend_schema(responses={200: TokenRefreshSerializer, **error_responses(400, 401)})
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)


class LogoutApi(APIView):
    """POST /api/auth/logout {refresh}: revoke the refresh token (simplejwt's blacklist) and end
    its session: its access tokens stop working and its sockets close. Holding the refresh
    token is the proof, so no access token is needed (it may have expired)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    class LogoutInput(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096)

    @extend_schema(
        request=LogoutInput,
        responses={204: None, **error_responses(400, 401)},
        operation_id="auth_logout",
    )
    def post(self, request: Request) -> Response:
        data = self.LogoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            refresh = RefreshToken(data.validated_data["refresh"])  # type: ignore[arg-type]
        except TokenError:
            raise RefreshTokenInvalid() from None
        sessions.session_logout(refresh=refresh)
        return Response(status=204)


class SessionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LoginSession.Kind.choices)
    method = serializers.CharField(help_text="How it signed on: password, erp, ldap, oidc, ...")
    since = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    address = serializers.CharField()
    browser = serializers.CharField(help_text='e.g. "Chrome 131 on Windows"; may be empty')
    current = serializers.BooleanField(help_text="The session of the token making this call.")


class MeSessionsApi(APIView):
    """My signed-in devices; DELETE signs out every one but the caller's own."""

    @extend_schema(
        responses=inline_serializer("Sessions", {"sessions": SessionOutput(many=True)}),
        operation_id="me_sessions",
    )
    def get(self, request: Request) -> Response:
        current = sessions.claimed_sid(request.auth)
        return Response({"sessions": selectors.sessions_of(user=request.user, current_sid=current)})

    @extend_schema(
        responses={200: inline_serializer("SessionsEnded", {"ended": serializers.IntegerField()})},
        operation_id="me_sessions_end_others",
    )
    def delete(self, request: Request) -> Response:
        ended = sessions.sessions_end_others(
            user=request.user,
            keep_sid=sessions.claimed_sid(request.auth),
            reason=LoginSession.EndReason.REVOKED,
        )
        return Response({"ended": ended})


class MeSessionApi(APIView):
    @extend_schema(responses={204: None, **error_responses(404)}, operation_id="me_session_end")
    def delete(self, request: Request, session_id: int) -> Response:
        """Sign one of my devices out (the lost phone): its tokens stop working at once and
        its sockets close; someone else's session is 404."""
        sessions.session_end(
            user=request.user, session_id=session_id, reason=LoginSession.EndReason.REVOKED
        )
        return Response(status=204)


class MePasswordApi(APIView):
    """POST /api/me/password: change my own password. A wrong current password counts against
    the login limits (RATE_LIMITS login_user and login_ip) and is logged as pw_fail; every
    other device is signed out; the answer is fresh tokens for this one."""

    class PasswordInput(serializers.Serializer):
        old_password = serializers.CharField(max_length=4096, trim_whitespace=False)
        new_password = serializers.CharField(max_length=4096, trim_whitespace=False)

    @extend_schema(
        request=PasswordInput,
        responses={200: TokenObtainPairSerializer, **error_responses(400, 403, 429)},
        operation_id="me_password_change",
    )
    def post(self, request: Request) -> Response:
        data = self.PasswordInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        address = request.META.get("REMOTE_ADDR", "")
        user_key = _login_key(user.user_id)
        try:
            rate_limit_check(scope="login_ip", key=address)
            if user_key:
                rate_limit_check(scope="login_user", key=user_key)
        except RateLimited:
            services.password_change_refused(user=user, state="locked", address=address)
            raise
        try:
            tokens = services.password_change(
                user=user,
                old_password=data.validated_data["old_password"],
                new_password=data.validated_data["new_password"],
                sid=sessions.claimed_sid(request.auth),
                address=address,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except WrongPassword:
            services.password_change_refused(user=user, state="password", address=address)
            rate_limit_record(scope="login_ip", key=address)
            if user_key:
                rate_limit_record(scope="login_user", key=user_key)
            raise
        return Response(tokens)


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
    picture_url = serializers.CharField(allow_null=True)
    online = serializers.BooleanField()
    kinds = serializers.ListField(child=serializers.CharField())


class MeOutput(PersonOutput):
    notify_off = serializers.BooleanField()
    hide_body = serializers.BooleanField()
    hide_sender = serializers.BooleanField()
    quiet_from = serializers.CharField(allow_null=True)
    quiet_to = serializers.CharField(allow_null=True)
    time_zone = serializers.CharField()
    notify_mentions = serializers.BooleanField()
    is_staff = serializers.BooleanField()
    credentials_changeable = serializers.BooleanField(
        help_text="False for an account without a local password (HR-synced)."
    )


class MeApi(APIView):
    class MePatchInput(serializers.Serializer):
        nickname = serializers.CharField(max_length=100, allow_blank=True, required=False)
        notify_off = serializers.BooleanField(required=False)
        hide_body = serializers.BooleanField(required=False)
        hide_sender = serializers.BooleanField(required=False)
        quiet_from = serializers.TimeField(allow_null=True, required=False, format="%H:%M")
        quiet_to = serializers.TimeField(allow_null=True, required=False, format="%H:%M")
        time_zone = serializers.CharField(max_length=64, required=False)
        notify_mentions = serializers.BooleanField(required=False)

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


class OrgBranchNodeOutput(serializers.Serializer):
    org_cd = serializers.CharField()
    name = serializers.CharField()
    level = serializers.IntegerField()
    seq = serializers.CharField()
    parent = serializers.CharField(allow_null=True)
    child_count = serializers.IntegerField()
    user_count = serializers.IntegerField()


class OrgPathOutput(serializers.Serializer):
    org_cd = serializers.CharField()
    name = serializers.CharField()


class OrgTreeOutput(serializers.Serializer):
    """The whole chart, everyone in it (no parent given)."""

    orgs = OrgNodeOutput(many=True)


class OrgBranchOutput(serializers.Serializer):
    """One branch (parent given): the org (null at the top), its path, its child orgs with
    their counts, its people."""

    org = OrgBranchNodeOutput(allow_null=True)
    path = OrgPathOutput(many=True)
    orgs = OrgBranchNodeOutput(many=True)
    users = PersonOutput(many=True)


class OrgTreeApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "parent",
                str,
                required=False,
                description="Omit for the whole chart with everyone in it (small companies). "
                "Give an org code for that branch: the org, its child orgs with their counts, "
                "its people; give it empty (?parent=) for the top of the chart.",
            )
        ],
        operation_id="org_tree",
        responses={
            200: PolymorphicProxySerializer(
                component_name="OrgTree",
                serializers=[OrgTreeOutput, OrgBranchOutput],
                resource_type_field_name=None,
            ),
            **error_responses(404),
        },
    )
    def get(self, request: Request) -> Response:
        parent = request.query_params.get("parent")
        if parent is None:
            return Response({"orgs": selectors.org_tree()})
        return Response(selectors.org_branch(parent=parent))


class ProfileOutput(PersonOutput):
    org_path = OrgPathOutput(many=True)


class UserDetailApi(APIView):
    @extend_schema(responses=ProfileOutput, operation_id="user_get")
    def get(self, request: Request, user_id: str) -> Response:
        return Response(selectors.user_profile(user_id=user_id))


class UserPictureApi(APIView):
    @extend_schema(
        responses={
            (200, CONTENT_TYPE): OpenApiResponse(description="the picture, a JPEG"),
            304: OpenApiResponse(description="Not modified: If-None-Match named its ETag."),
        },
        operation_id="user_picture",
    )
    def get(self, request: Request, user_id: str) -> HttpResponseBase:
        picture = selectors.user_picture(user_id=user_id)
        etag = f'"{(picture.name or "").rsplit("/", 1)[-1]}"'
        if etag in request.headers.get("If-None-Match", ""):
            response: HttpResponseBase = HttpResponse(status=304)
        else:
            response = FileResponse(picture.open("rb"), content_type=CONTENT_TYPE)
            response["Content-Disposition"] = "inline"
        response["ETag"] = etag
        response["Cache-Control"] = "private, max-age=86400"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class MePictureApi(APIView):
    parser_classes = [MultiPartParser]

    class PictureInput(serializers.Serializer):
        picture = serializers.FileField(help_text="JPEG, PNG, GIF or WebP; stored as a JPEG.")

    @extend_schema(
        request=PictureInput,
        responses={200: MeOutput, **error_responses(413)},
        operation_id="me_picture_put",
    )
    def put(self, request: Request) -> Response:
        upload = request.FILES.get(PICTURE_FIELD)
        if upload is None:
            raise InvalidInput(
                f"Send the picture as multipart/form-data in the field '{PICTURE_FIELD}'."
            )
        user = services.profile_picture_set(user=request.user, upload=upload, actor=request.user)
        return Response(selectors.me(user=user))

    @extend_schema(
        request=PictureInput,
        responses={200: MeOutput, **error_responses(413)},
        operation_id="me_picture_post",
    )
    def post(self, request: Request) -> Response:
        return self.put(request)

    @extend_schema(responses={200: MeOutput}, operation_id="me_picture_delete")
    def delete(self, request: Request) -> Response:
        user = services.profile_picture_remove(user=request.user, actor=request.user)
        return Response(selectors.me(user=user))


class UserSearchApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True)],
        responses=inline_serializer("People", {"users": PersonOutput(many=True)}),
        operation_id="users_search",
    )
    def get(self, request: Request) -> Response:
        return Response({"users": selectors.users_search(q=request.query_params.get("q"))})
