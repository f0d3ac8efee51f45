"""REST interface of file transfer: upload, forward, download, thumbnail, link-preview image.

Thin: parse, call the service or selector, render. Downloads answer with the bytes (or a
proxy header, see serving.py); every error is the one JSON shape, whatever the Accept header.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from filetransfer import selectors, services, serving
from filetransfer.errors import RangeNotSatisfiable, human_size
from filetransfer.storage import thumbnail_mime
from filetransfer.uploadhandler import LimitedUploadHandler
from messages.api import MessageOutput
from messenger.errors import InvalidInput, NotFound, TooLarge
from messenger.ratelimit import rate_limit_hit
from messenger.schema import error_responses
from rooms import selectors as room_selectors

FILE_FIELDS = ("files", "file")
MSG_ID_FIELDS = ("msg_ids", "msg_id")
# Thumbnails and preview images are JPEG, or PNG when transparent.
IMAGE_RESPONSES = {
    (200, "image/jpeg"): OpenApiTypes.BINARY,
    (200, "image/png"): OpenApiTypes.BINARY,
}
# Room for the multipart boundaries and the msg_id fields around the files themselves.
FORM_OVERHEAD_BYTES = 1024 * 1024


class BytesNegotiation(DefaultContentNegotiation):
    """File views answer with bytes whatever the client accepts; only their errors are
    rendered, and always as JSON."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: Any = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def _etag(value: str) -> str:
    return f'"{value}"'


class BytesApi(APIView):
    """A view that answers with stored bytes."""

    content_negotiation_class = BytesNegotiation

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, RangeNotSatisfiable):
            # RFC 9110: a 416 names the current length.
            response["Content-Range"] = f"bytes */{exc.extra['size']}"
        return response


class RoomFilesApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "FileUpload",
                {
                    "files": serializers.ListField(child=serializers.FileField()),
                    "msg_ids": serializers.ListField(child=serializers.UUIDField()),
                },
            )
        },
        responses={
            201: inline_serializer("FilesSent", {"messages": MessageOutput(many=True)}),
            200: inline_serializer("FilesSentBefore", {"messages": MessageOutput(many=True)}),
            # 409: a msg_id used by another message; 413: too many, too large or over quota.
            **error_responses(409, 413),
        },
        operation_id="room_files_upload",
        description="One image or file message per file; msg_ids give one id per file, in the "
        "order of the files. 201 when any file was new, 200 when all were stored before.",
    )
    def post(self, request: Request, room_id: int) -> Response:
        conf = settings.MESSENGER_FILES
        # Strangers are refused before a byte of their upload is read.
        room_selectors.membership_get(user=request.user, room_id=room_id)
        # Counted here rather than in the service: a refused upload is not read at all.
        rate_limit_hit(scope="upload", key=request.user.pk)
        limit = conf["MAX_BYTES"] * conf["MAX_PER_REQUEST"] + FORM_OVERHEAD_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise TooLarge(
                f"The request is {human_size(length)}; at most {conf['MAX_PER_REQUEST']} files "
                f"of at most {human_size(conf['MAX_BYTES'])} each are accepted at once."
            )
        request._request.upload_handlers = [
            LimitedUploadHandler(
                request._request,
                max_bytes=conf["MAX_BYTES"],
                max_files=conf["MAX_PER_REQUEST"],
            )
        ]
        unexpected = sorted(set(request.FILES) - set(FILE_FIELDS))
        if unexpected:
            raise InvalidInput(f"Send files in the files field, not in {', '.join(unexpected)}.")
        files = [upload for name in FILE_FIELDS for upload in request.FILES.getlist(name)]
        msg_ids = [
            part.strip()
            for name in MSG_ID_FIELDS
            for value in request.POST.getlist(name)
            for part in str(value).split(",")
            if part.strip()
        ]
        try:
            payloads, created = services.files_upload(
                actor=request.user, room_id=room_id, files=files, msg_ids=msg_ids
            )
        finally:
            for upload in files:
                upload.close()
        return Response(
            {"messages": payloads},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RoomForwardApi(APIView):
    class ForwardInput(serializers.Serializer):
        msg_id = serializers.CharField(max_length=64)
        source_msg_id = serializers.CharField(max_length=64)

    @extend_schema(
        request=ForwardInput,
        responses={
            201: MessageOutput,
            200: MessageOutput,
            # 409: msg_id used by another message; 410: the file has expired.
            **error_responses(409, 410),
        },
        operation_id="room_file_forward",
        description="Forward (flink) a file or image you can see to this room, without copying "
        "it; 200 when msg_id was stored before (a retry).",
    )
    def post(self, request: Request, room_id: int) -> Response:
        data = self.ForwardInput(data=request.data)
        data.is_valid(raise_exception=True)
        payload, created = services.file_forward(
            actor=request.user, room_id=room_id, **data.validated_data
        )
        return Response(payload, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class FileDownloadApi(BytesApi):
    @extend_schema(
        responses={
            (200, "*/*"): OpenApiTypes.BINARY,
            (206, "*/*"): OpenApiTypes.BINARY,
            **error_responses(410, 416),
        },
        operation_id="file_download",
        description="The file of an image, file or flink message, for present members of its "
        "room. Supports Range (one range) and If-Range.",
    )
    def get(self, request: Request, msg_id: str) -> HttpResponseBase:
        log = selectors.file_for_member(user=request.user, msg_id=msg_id)
        return serving.stored_file_response(
            request,
            storage_name=log.storage_name,
            size=log.size,
            content_type=log.content_type or "application/octet-stream",
            disposition=serving.content_disposition("attachment", log.original_name),
            etag=_etag(log.sha256[:32] or str(log.pk)),
            modified=log.created_at,
        )


class FileThumbnailApi(BytesApi):
    @extend_schema(
        responses={**IMAGE_RESPONSES, **error_responses(410)},
        operation_id="file_thumbnail",
        description="The thumbnail (JPEG, or PNG when transparent) of an image or video poster.",
    )
    def get(self, request: Request, msg_id: str) -> HttpResponseBase:
        log = selectors.file_for_member(user=request.user, msg_id=msg_id)
        if not log.thumbnail_name:
            raise NotFound("This file has no thumbnail.")
        size = serving.stored_size(log.thumbnail_name)
        mime = thumbnail_mime(log.thumbnail_name)
        stem = log.original_name.rsplit(".", 1)[0] or "file"
        extension = "png" if mime == "image/png" else "jpg"
        return serving.stored_file_response(
            request,
            storage_name=log.thumbnail_name,
            size=size,
            content_type=mime,
            disposition=serving.content_disposition("inline", f"{stem}.thumb.{extension}"),
            etag=_etag("t" + (log.sha256[:32] or str(log.pk))),
            modified=log.created_at,
        )


class LinkPreviewImageApi(BytesApi):
    @extend_schema(
        responses=IMAGE_RESPONSES,
        operation_id="link_preview_image",
        description="The image of a link preview card, as named by the card's `image`.",
    )
    def get(self, request: Request, token: str) -> HttpResponseBase:
        preview = selectors.link_preview_image(token=token)
        mime = thumbnail_mime(preview.image_name)
        return serving.stored_file_response(
            request,
            storage_name=preview.image_name,
            size=serving.stored_size(preview.image_name),
            content_type=mime,
            disposition=serving.content_disposition(
                "inline", "preview.png" if mime == "image/png" else "preview.jpg"
            ),
            etag=_etag(str(preview.token) + str(int(preview.fetched_at.timestamp()))),
            modified=preview.fetched_at,
        )
