"""The scene the authorisation tests attack: a group room with secrets in it, the people around
it (its master, a member, the sender of the secrets, one who left, one deactivated, a stranger)
and the tokens an attacker might hold.

Everything is built through the real services, so the rules under test are the ones in use.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from rest_framework_simplejwt.tokens import AccessToken

from filetransfer import services as file_services
from filetransfer.models import FileLog, LinkPreview
from messages import services as message_services
from messages.models import Message, MessageReceipt
from notifications.models import WebPushSubscription
from orgsync import services as org_services
from orgsync.models import LoginSession, User
from rooms.models import Room, RoomMember
from tests.factories import UserFactory

# Who tries a call. The first five never get past authentication.
ANON = "anonymous"
GARBAGE = "garbage token"
FORGED = "forged token"
EXPIRED = "expired token"
DISABLED = "deactivated member"
OUTSIDER = "outsider"
LEAVER = "member who left"
MEMBER = "member"
MASTER = "room master"
SENDER = "sender"
# The one who may, naming a room, message, file, person or preview that does not exist.
UNKNOWN = "unknown id"

TOKEN_ACTORS = (ANON, GARBAGE, FORGED, EXPIRED, DISABLED)

ROOM_NAME = "기밀프로젝트X"
SECRET_BODY = "극비 이야기 Q7"
REPLY_BODY = "극비 답장 Z9"
FILE_NAME = "기밀문서W3.png"
MASTER_ENDPOINT = "https://push.example.com/v1/secret-endpoint-M1"
UNKNOWN_ROOM = 10**9


def png(color: tuple[int, int, int] = (200, 0, 0), size: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, "PNG")
    return out.getvalue()


def forged_token(user: User) -> str:
    """A token with the right claims for `user`, signed with a key the server does not hold."""
    claims = dict(AccessToken.for_user(user).payload)
    return jwt.encode(claims, "not-the-server-key-" + uuid.uuid4().hex, algorithm="HS256")


def unsigned_token(user: User) -> str:
    """A token for `user` with `alg: none`: no signature at all."""
    claims = dict(AccessToken.for_user(user).payload)
    return jwt.encode(claims, None, algorithm="none")


def tampered_token(holder: User, victim: User) -> str:
    """The holder's genuine token with its user claim changed to the victim's: the signature
    no longer matches the payload."""
    header, _payload, signature = str(AccessToken.for_user(holder)).split(".")
    claims = dict(AccessToken.for_user(holder).payload)
    claims[settings.SIMPLE_JWT["USER_ID_CLAIM"]] = victim.pk
    forged = jwt.encode(claims, "k" * 32, algorithm="HS256").split(".")[1]
    return f"{header}.{forged}.{signature}"


def expired_token(user: User) -> str:
    """A genuine, correctly signed access token whose lifetime has passed."""
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(hours=2))
    return str(token)


@dataclass
class Scene:
    master: User
    member: User
    sender: User
    leaver: User
    disabled: User
    outsider: User
    newcomer: User
    room: Room
    secret_msg: str
    reply_msg: str
    file_msg: str
    preview_token: str
    # A signed-in device of the master's, which nobody else may sign out.
    master_session: int = 0
    tokens: dict[str, str | None] = field(default_factory=dict)

    def user(self, actor: str) -> User | None:
        return {
            MEMBER: self.member,
            MASTER: self.master,
            SENDER: self.sender,
            LEAVER: self.leaver,
            OUTSIDER: self.outsider,
            UNKNOWN: None,
        }.get(actor)

    def token(self, actor: str) -> str | None:
        return self.tokens[actor]

    @property
    def room_secrets(self) -> list[str]:
        """What nobody outside the room may learn from any answer."""
        return [ROOM_NAME, SECRET_BODY, REPLY_BODY, FILE_NAME, MASTER_ENDPOINT]

    @property
    def member_secrets(self) -> list[str]:
        """Who is in the room: not told in a refusal either."""
        people = [self.master, self.member, self.sender]
        return [p.user_id for p in people] + [p.name for p in people]

    def world(self) -> tuple:
        """Everything about the room and its people that a refused call must leave untouched."""
        room = Room.objects.get(pk=self.room.pk)
        members = list(
            RoomMember.objects.filter(room=room)
            .order_by("id")
            .values_list("user_id", "state", "nickname", "muted", "last_read_seq", "joined_seq")
        )
        messages = list(
            Message.objects.filter(room=room).order_by("seq").values_list("seq", "state", "body")
        )
        # Not the leaver's and the outsider's own: they may change their own settings.
        people = [self.master, self.member, self.sender, self.disabled]
        profiles = list(
            User.objects.filter(pk__in=[p.pk for p in people])
            .order_by("pk")
            .values_list(
                "pk", "is_active", "nickname", "notify_off", "hide_body", "time_zone", "picture"
            )
        )
        subscriptions = list(
            WebPushSubscription.objects.filter(user__in=people)
            .order_by("pk")
            .values_list("user_id", "endpoint")
        )
        sessions = list(
            LoginSession.objects.filter(user__in=people)
            .order_by("pk")
            .values_list("pk", "user_id", "ended_at")
        )
        return (
            sessions,
            room.name,
            room.master_id,
            room.member_count,
            room.last_seq,
            room.state,
            members,
            messages,
            list(MessageReceipt.objects.order_by("pk").values_list("message_id", "user_id")),
            list(FileLog.objects.filter(room_id=room.pk).values_list("pk", "state")),
            profiles,
            subscriptions,
        )


def build_scene() -> Scene:
    """The room and its people; MEDIA_ROOT must already point at a scratch folder."""
    master = UserFactory(user_id="kim.master", name="김방장")
    member = UserFactory(user_id="lee.member", name="이멤버")
    sender = UserFactory(user_id="park.sender", name="박작성")
    leaver = UserFactory(user_id="choi.leaver", name="최퇴장")
    disabled = UserFactory(user_id="jung.disabled", name="정휴면")
    outsider = UserFactory(user_id="mallory.out", name="말로리")
    # Someone a member may invite, who watches nothing.
    newcomer = UserFactory(user_id="yoon.new", name="윤신입")
    room, _created = message_services.room_create(
        actor=master,
        member_ids=[u.user_id for u in (member, sender, leaver, disabled)],
        name=ROOM_NAME,
    )
    secret, _ = message_services.message_send(
        actor=sender, room_id=room.pk, msg_id=uuid.uuid4(), body=SECRET_BODY
    )
    reply, _ = message_services.message_send(
        actor=master, room_id=room.pk, msg_id=uuid.uuid4(), body=REPLY_BODY
    )
    [file], _ = file_services.files_upload(
        actor=sender,
        room_id=room.pk,
        files=[SimpleUploadedFile(FILE_NAME, png())],
        msg_ids=[str(uuid.uuid4())],
    )
    message_services.room_leave(actor=leaver, room_id=room.pk)
    User.objects.filter(pk=disabled.pk).update(is_active=False)
    disabled.refresh_from_db()
    org_services.profile_picture_set(user=member, upload=png((0, 90, 0), 32), actor=member)
    WebPushSubscription.objects.create(
        user=master, endpoint=MASTER_ENDPOINT, p256dh="k" * 87, auth="a" * 22
    )
    preview = LinkPreview.objects.create(
        url="https://example.com/page",
        url_hash=uuid.uuid4().hex,
        status=LinkPreview.Status.OK,
        title="Example",
        image_name=default_storage.save(f"previews/{uuid.uuid4().hex}.png", ContentFile(png())),
        fetched_at=timezone.now(),
    )
    room.refresh_from_db()
    scene = Scene(
        master=master,
        member=member,
        sender=sender,
        leaver=leaver,
        disabled=disabled,
        outsider=outsider,
        newcomer=newcomer,
        room=room,
        secret_msg=secret["msg_id"],
        reply_msg=reply["msg_id"],
        file_msg=file["msg_id"],
        preview_token=str(preview.token),
        master_session=AccessToken(
            org_services.login_tokens(
                user=master, method="password", device="mobile", address="10.0.0.1"
            )["access"]
        )["sid"],
    )
    scene.tokens = {
        ANON: None,
        GARBAGE: "not.a.token",
        FORGED: forged_token(master),
        EXPIRED: expired_token(master),
        DISABLED: str(AccessToken.for_user(disabled)),
        **{
            actor: str(AccessToken.for_user(user))
            for actor, user in (
                (OUTSIDER, outsider),
                (LEAVER, leaver),
                (MEMBER, member),
                (MASTER, master),
                (SENDER, sender),
            )
        },
    }
    scene.tokens[UNKNOWN] = None
    return scene


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets that appear in an answer."""
    return [s for s in secrets if s in text]


def answer_text(content: bytes) -> str:
    return content.decode("utf-8", errors="replace")


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
