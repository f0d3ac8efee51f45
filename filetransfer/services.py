"""Writes of file transfer: upload, forward (flink), expiry, and link preview cards.

An upload is checked whole before anything is written (count, size, type from the content,
pixels, quota), then recorded as `pending` in the file log, then written to storage, then
turned into messages in one transaction; on any failure the written bytes and the pending
rows are removed again, and a crash in between leaves pending rows the expiry job cleans up.
"""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from filetransfer import images, linkpreview, selectors, storage
from filetransfer.errors import (
    FileExpired,
    FileTooLarge,
    FileTypeRefused,
    ImageTooLarge,
    QuotaExceeded,
    TooManyFiles,
    human_size,
)
from filetransfer.models import FileLog, LinkPreview
from filetransfer.sniff import HEAD_BYTES, Sniffed, sniff
from messages import services as message_services
from messages.models import Message
from messages.selectors import parse_msg_id
from messenger.errors import Conflict, InvalidInput
from messenger.ratelimit import rate_limit_hit
from orgsync.models import User
from rooms import selectors as room_selectors

logger = logging.getLogger(__name__)

NAME_MAX_CHARS = 200
READ_CHUNK = 1024 * 1024
PREVIEW_IMAGE_PX = 400


# --- names, limits, expiry -----------------------------------------------------------------


def clean_file_name(raw: Any) -> str:
    """The name shown for an upload: its last path part, in NFC, without control, format or
    unassigned characters (no NUL, no bidi overrides), at most NAME_MAX_CHARS long."""
    name = unicodedata.normalize("NFC", raw if isinstance(raw, str) else "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Cn"))
    name = " ".join(name.split()).strip(" .")
    if not name:
        return "file"
    if len(name) > NAME_MAX_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= 16:
            name = stem[: NAME_MAX_CHARS - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:NAME_MAX_CHARS]
    return name


def expiry_for(*, mime: str, now: datetime) -> datetime | None:
    """When a file of this MIME type expires: the per-type override, else the default (days;
    0 keeps it forever)."""
    conf = settings.MESSENGER_FILES
    overrides = conf["EXPIRE_DAYS_BY_TYPE"]
    days = overrides.get(mime, overrides.get(mime.split("/", 1)[0] + "/*", conf["EXPIRE_DAYS"]))
    return None if int(days) <= 0 else now + timedelta(days=int(days))


def _json_time(value: datetime | None) -> str | None:
    return DjangoJSONEncoder().default(value) if value is not None else None


def file_meta(
    *,
    name: str,
    size: int,
    mime: str,
    kind: str,
    width: int | None,
    height: int | None,
    thumbnail: bool,
    expires_at: datetime | None,
) -> dict[str, Any]:
    """`meta.file` of an image, file or flink message (docs/protocol.md, "Files")."""
    return {
        "name": name,
        "size": size,
        "mime": mime,
        "kind": kind,
        "width": width,
        "height": height,
        "thumbnail": thumbnail,
        "expires": _json_time(expires_at),
    }


# --- upload ------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Prepared:
    """One checked upload, ready to be stored."""

    index: int
    upload: UploadedFile
    msg_id: uuid.UUID
    name: str
    size: int
    sha256: str
    sniffed: Sniffed
    message_type: str
    kind: str
    picture: images.Picture | None
    expires_at: datetime | None
    storage_name: str = ""
    thumbnail_name: str = ""
    log_pk: int = 0
    written: list[str] = field(default_factory=list)

    @property
    def mime(self) -> str:
        # An image Pillow cannot decode is not served under an image type.
        if self.sniffed.is_image and self.picture is None:
            return "application/octet-stream"
        return self.sniffed.mime

    def meta(self) -> dict[str, Any]:
        return {
            "file": file_meta(
                name=self.name,
                size=self.size,
                mime=self.mime,
                kind=self.kind,
                width=self.picture.width if self.picture else None,
                height=self.picture.height if self.picture else None,
                thumbnail=bool(self.thumbnail_name),
                expires_at=self.expires_at,
            )
        }


def _msg_ids(values: Sequence[Any], *, count: int) -> list[uuid.UUID]:
    if len(values) != count:
        raise InvalidInput(
            "Give one msg_id per file, in the order of the files "
            f"(got {count} file(s) and {len(values)} msg_id(s))."
        )
    ids = [parse_msg_id(value) for value in values]
    if len(set(ids)) != len(ids):
        raise InvalidInput("Each file needs its own msg_id.")
    return ids


def _digest(upload: UploadedFile) -> tuple[bytes, int, str]:
    """(first bytes, size, sha256) of an upload, reading it once."""
    upload.seek(0)
    hasher = hashlib.sha256()
    head = b""
    size = 0
    for chunk in upload.chunks(READ_CHUNK):
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        hasher.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return head, size, hasher.hexdigest()


def _video_picture(upload: UploadedFile, conf: dict[str, Any]) -> images.Picture | None:
    if images.ffmpeg_path(conf["FFMPEG"]) is None:
        return None
    options = {
        "ffmpeg": conf["FFMPEG"],
        "timeout": conf["FFMPEG_TIMEOUT_SECONDS"],
        "max_pixels": conf["IMAGE_MAX_PIXELS"],
        "thumb_px": conf["THUMBNAIL_MAX_PX"],
    }
    path = getattr(upload, "temporary_file_path", None)
    if path is not None:
        return images.picture_from_video(path(), **options)
    with tempfile.NamedTemporaryFile(prefix="video-", suffix=".part") as copy:
        upload.seek(0)
        shutil.copyfileobj(upload, copy, READ_CHUNK)
        copy.flush()
        return images.picture_from_video(copy.name, **options)


def _inspect(*, index: int, upload: UploadedFile, msg_id: uuid.UUID, now: datetime) -> _Prepared:
    """Check one upload (size, type, pixels) and make its thumbnail; writes nothing."""
    conf = settings.MESSENGER_FILES
    name = clean_file_name(upload.name)
    head, size, sha256 = _digest(upload)
    if size > conf["MAX_BYTES"]:
        raise FileTooLarge(
            f'"{name}" is {human_size(size)}; files may be at most {human_size(conf["MAX_BYTES"])}.'
        )
    if size == 0:
        raise InvalidInput(f'"{name}" is empty.')
    sniffed = sniff(head, name=name)
    if sniffed.kind in conf["REFUSED_KINDS"]:
        raise FileTypeRefused(
            f'"{name}" is {_kind_label(sniffed)} by its content, and such files are not '
            "accepted. Put it in a ZIP archive to send it."
        )
    picture = None
    kind = "file"
    if sniffed.is_image:
        upload.seek(0)
        picture = images.picture_from_image(
            upload,
            kind=sniffed.kind,
            max_pixels=conf["IMAGE_MAX_PIXELS"],
            thumb_px=conf["THUMBNAIL_MAX_PX"],
        )
        kind = "image" if picture is not None else "file"
    elif sniffed.is_video:
        picture = _video_picture(upload, conf)
        kind = "video"
    upload.seek(0)
    return _Prepared(
        index=index,
        upload=upload,
        msg_id=msg_id,
        name=name,
        size=size,
        sha256=sha256,
        sniffed=sniffed,
        message_type=Message.Type.IMAGE if kind == "image" else Message.Type.FILE,
        kind=kind,
        picture=picture,
        expires_at=expiry_for(mime=sniffed.mime, now=now),
    )


def _kind_label(sniffed: Sniffed) -> str:
    labels = {
        "html": "an HTML page",
        "svg": "an SVG image (which can hold scripts)",
        "exe": "a Windows program",
        "elf": "a Linux program",
        "macho": "a macOS program",
    }
    return labels.get(sniffed.kind, f"of type {sniffed.mime}")


def _check_quota(*, user_pk: int, adding: int) -> None:
    quota = settings.MESSENGER_FILES["QUOTA_BYTES"]
    if quota <= 0:
        return
    used = selectors.file_quota_used(user_pk=user_pk)
    if used + adding > quota:
        raise QuotaExceeded(
            f"These files ({human_size(adding)}) would take your files to more than your quota "
            f"of {human_size(quota)} ({human_size(used)} in use until they expire)."
        )


def _reserve(*, actor: User, room_pk: int, todo: list[_Prepared]) -> None:
    """Record the uploads as pending, under a lock of the user's row so that two uploads of
    one person cannot both slip under the quota. Committed before any byte is written."""
    with transaction.atomic():
        # The room first, then the person: the order every send takes them in (a send locks
        # the room, then its insert checks the sender's row), so neither waits on the other.
        room_selectors.room_lock(room_id=room_pk)
        User.objects.select_for_update().filter(pk=actor.pk).exists()
        _check_quota(user_pk=actor.pk, adding=sum(p.size for p in todo))
        for prepared in todo:
            prepared.storage_name = storage.new_storage_name(folder=storage.UPLOADS)
            if prepared.picture is not None:
                prepared.thumbnail_name = storage.thumbnail_name_for(
                    prepared.storage_name, mime=prepared.picture.thumbnail_mime
                )
            prepared.log_pk = FileLog.objects.create(
                room_id=room_pk,
                sender=actor,
                storage_name=prepared.storage_name,
                thumbnail_name=prepared.thumbnail_name,
                original_name=prepared.name,
                size=prepared.size,
                content_type=prepared.mime,
                sha256=prepared.sha256,
                width=prepared.picture.width if prepared.picture else None,
                height=prepared.picture.height if prepared.picture else None,
                state=FileLog.State.PENDING,
                expires_at=prepared.expires_at,
            ).pk


def _write(todo: list[_Prepared]) -> None:
    for prepared in todo:
        prepared.upload.seek(0)
        storage.save_exactly(prepared.storage_name, prepared.upload)
        prepared.written.append(prepared.storage_name)
        if prepared.picture is not None:
            storage.save_exactly(prepared.thumbnail_name, prepared.picture.thumbnail)
            prepared.written.append(prepared.thumbnail_name)


def _discard(todo: list[_Prepared]) -> None:
    """Undo a failed or superseded upload: its bytes and its pending rows."""
    storage.delete_quietly(name for prepared in todo for name in prepared.written)
    FileLog.objects.filter(
        pk__in=[p.log_pk for p in todo if p.log_pk], state=FileLog.State.PENDING
    ).delete()


def files_upload(
    *, actor: User, room_id: Any, files: Sequence[UploadedFile], msg_ids: Sequence[Any]
) -> tuple[list[dict[str, Any]], bool]:
    """Send files to a room, one image or file message each, idempotent by each file's msg_id.

    Every file is checked before any is stored, so a refused request stores nothing. Returns
    the messages in the order of the files, and whether any of them is new.
    """
    conf = settings.MESSENGER_FILES
    if not files:
        raise InvalidInput("Attach at least one file in the files field.")
    if len(files) > conf["MAX_PER_REQUEST"]:
        raise TooManyFiles(f"Send at most {conf['MAX_PER_REQUEST']} files in one request.")
    ids = _msg_ids(msg_ids, count=len(files))
    member = room_selectors.membership_get(user=actor, room_id=room_id)
    payloads: list[dict[str, Any] | None] = []
    for msg_id in ids:
        payloads.append(
            message_services.message_retry_payload(
                actor=actor, room_id=member.room_id, msg_id=msg_id
            )
        )
    now = timezone.now()
    todo = [
        _inspect(index=i, upload=upload, msg_id=ids[i], now=now)
        for i, upload in enumerate(files)
        if payloads[i] is None
    ]
    superseded: list[_Prepared] = []
    if todo:
        _check_quota(user_pk=actor.pk, adding=sum(p.size for p in todo))
        _reserve(actor=actor, room_pk=member.room_id, todo=todo)
        try:
            _write(todo)
            with transaction.atomic():
                for prepared in todo:
                    message, payload, created = message_services.message_append_file(
                        actor=actor,
                        room_id=member.room_id,
                        msg_id=prepared.msg_id,
                        type=prepared.message_type,
                        body=prepared.name,
                        meta=prepared.meta(),
                        file_expires_at=prepared.expires_at,
                        thumbnail=prepared.thumbnail_name,
                    )
                    payloads[prepared.index] = payload
                    if not created:
                        # A retry of the same upload committed first: keep its copy, not ours.
                        superseded.append(prepared)
                        continue
                    stored = FileLog.objects.filter(
                        pk=prepared.log_pk, state=FileLog.State.PENDING
                    ).update(message=message, state=FileLog.State.STORED, updated_at=now)
                    if stored != 1:
                        raise Conflict("The upload took too long and was discarded; send again.")
        except BaseException:
            _discard(todo)
            raise
        if superseded:
            transaction.on_commit(lambda: _discard(superseded), robust=True)
        logger.info(
            "user %s stored %d files (%d bytes) in room %s",
            actor.pk,
            len(todo) - len(superseded),
            sum(p.size for p in todo if p not in superseded),
            member.room_id,
        )
    return [p for p in payloads if p is not None], len(todo) > len(superseded)


# --- forward ------------------------------------------------------------------------------------


def file_forward(
    *, actor: User, room_id: Any, msg_id: Any, source_msg_id: Any
) -> tuple[dict[str, Any], bool]:
    """Forward (flink) a stored file to a room without copying it, idempotent by msg_id.

    The actor must be able to see the original; the forward shares its bytes and its expiry,
    and who may download it follows the target room's membership.
    """
    msg_uuid = parse_msg_id(msg_id)
    target = room_selectors.membership_get(user=actor, room_id=room_id)
    retry = message_services.message_retry_payload(
        actor=actor, room_id=target.room_id, msg_id=msg_uuid
    )
    if retry is not None:
        return retry, False
    rate_limit_hit(scope="send", key=actor.pk)
    if source_msg_id in (None, ""):
        raise InvalidInput("source_msg_id is required: the msg_id of the file to forward.")
    original = selectors.file_for_member(user=actor, msg_id=source_msg_id, field="source_msg_id")
    root_pk = original.source_id or original.pk
    with transaction.atomic():
        root = FileLog.objects.select_for_update().select_related("message").get(pk=root_pk)
        if root.state != FileLog.State.STORED:
            raise FileExpired()
        meta = {"file": dict(original.message.meta.get("file") or {})} if original.message else {}
        message, payload, created = message_services.message_append_file(
            actor=actor,
            room_id=target.room_id,
            msg_id=msg_uuid,
            type=Message.Type.FLINK,
            body=root.original_name,
            meta=meta,
            file_expires_at=root.expires_at,
            thumbnail=root.thumbnail_name,
        )
        if created and message is not None:
            FileLog.objects.create(
                message=message,
                room_id=message.room_id,
                sender=actor,
                source=root,
                storage_name=root.storage_name,
                thumbnail_name=root.thumbnail_name,
                original_name=root.original_name,
                size=root.size,
                content_type=root.content_type,
                sha256=root.sha256,
                width=root.width,
                height=root.height,
                state=FileLog.State.STORED,
                expires_at=root.expires_at,
            )
            logger.info("user %s forwarded file %s to room %s", actor.pk, root.pk, message.room_id)
    return payload, created


# --- expiry -------------------------------------------------------------------------------------


def _expire_upload(*, root_pk: int, now: datetime) -> bool:
    """Expire one upload and its forwards: rows marked, messages marked (pushed), bytes deleted
    after commit. False when it was no longer stored."""
    with transaction.atomic():
        root = (
            FileLog.objects.select_for_update()
            .filter(pk=root_pk, source__isnull=True, state=FileLog.State.STORED)
            .first()
        )
        if root is None:
            return False
        logs = [root, *FileLog.objects.select_for_update().filter(source=root)]
        FileLog.objects.filter(pk__in=[log.pk for log in logs], state=FileLog.State.STORED).update(
            state=FileLog.State.EXPIRED, updated_at=now
        )
        message_services.messages_mark_expired(
            message_pks=[log.message_id for log in logs if log.message_id]
        )
        transaction.on_commit(lambda: _remove_bytes(root), robust=True)
    return True


def _remove_bytes(root: FileLog) -> None:
    """Delete an expired or abandoned upload's bytes, then record it (removed_at) on its row
    and its forwards' rows. A process killed in between leaves removed_at empty, and the next
    expiry run finishes the job (_finish_removals)."""
    storage.delete_quietly([root.storage_name, root.thumbnail_name])
    FileLog.objects.filter(Q(pk=root.pk) | Q(source=root.pk), removed_at__isnull=True).update(
        removed_at=timezone.now()
    )


def _finish_removals(*, limit: int) -> int:
    """Delete the bytes of uploads that were expired or abandoned but whose bytes were never
    recorded as deleted: the process died between the commit and the deletion."""
    left = list(
        FileLog.objects.filter(
            state__in=[FileLog.State.EXPIRED, FileLog.State.DELETED],
            source__isnull=True,
            removed_at__isnull=True,
        ).order_by("pk")[:limit]
    )
    for root in left:
        _remove_bytes(root)
    return len(left)


def _delete_abandoned(*, now: datetime, limit: int) -> int:
    """Delete uploads whose message was never written (the process died mid-upload)."""
    cutoff = now - timedelta(seconds=settings.MESSENGER_FILES["PENDING_GRACE_SECONDS"])
    stale = list(
        FileLog.objects.filter(state=FileLog.State.PENDING, created_at__lt=cutoff).order_by("pk")[
            :limit
        ]
    )
    deleted = 0
    for log in stale:
        # The row first: an upload that became STORED since the select keeps its bytes.
        if FileLog.objects.filter(pk=log.pk, state=FileLog.State.PENDING).update(
            state=FileLog.State.DELETED, updated_at=now
        ):
            _remove_bytes(log)
            deleted += 1
    return deleted


def _delete_old_previews(*, now: datetime, limit: int) -> int:
    cutoff = now - timedelta(days=settings.MESSENGER_FILES["LINK_PREVIEW_KEEP_DAYS"])
    old = list(LinkPreview.objects.filter(fetched_at__lt=cutoff).order_by("pk")[:limit])
    storage.delete_quietly(preview.image_name for preview in old)
    LinkPreview.objects.filter(pk__in=[preview.pk for preview in old]).delete()
    return len(old)


def files_expire(*, now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """The expiry job: delete files past their expiry (their messages stay, marked expired and
    pushed as message_updated), uploads that never completed, and old link previews."""
    now = now or timezone.now()
    # First what an earlier run left half done (it died between a commit and a deletion).
    finished = _finish_removals(limit=limit)
    expired = 0
    while True:
        # In batches, each upload in its own transaction: a backlog never holds long locks.
        due = list(
            FileLog.objects.filter(
                state=FileLog.State.STORED, source__isnull=True, expires_at__lte=now
            )
            .order_by("expires_at")
            .values_list("pk", flat=True)[:limit]
        )
        expired += sum(_expire_upload(root_pk=pk, now=now) for pk in due)
        if len(due) < limit:
            break
    counts = {
        "expired": expired,
        "abandoned": _delete_abandoned(now=now, limit=limit),
        "finished": finished,
        "previews": _delete_old_previews(now=now, limit=limit),
    }
    logger.info(
        "file expiry: %d expired, %d unfinished uploads deleted, %d interrupted deletions "
        "finished, %d link previews dropped",
        counts["expired"],
        counts["abandoned"],
        counts["finished"],
        counts["previews"],
    )
    return counts


def file_logs_expire_now(*, file_log_ids: Sequence[int]) -> int:
    """Expire the given files at once (admin's "expire now"); a forward expires with its
    original and every other forward of it, since they share the bytes."""
    roots = set(
        FileLog.objects.filter(pk__in=list(file_log_ids), state=FileLog.State.STORED).values_list(
            "source_id", "pk"
        )
    )
    now = timezone.now()
    return sum(
        _expire_upload(root_pk=pk, now=now)
        for pk in sorted({source or own for source, own in roots})
    )


# --- link previews -------------------------------------------------------------------------------


def _url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def _fetch_preview_image(url: str, rules: linkpreview.Rules) -> str:
    """Fetch, check and re-encode a card's image; returns its storage name or "" (no image)."""
    conf = settings.MESSENGER_FILES
    try:
        fetched = linkpreview.fetch(
            url,
            rules=rules,
            accept="image/*",
            max_bytes=conf["LINK_PREVIEW_IMAGE_MAX_BYTES"] + 1,
        )
    except (linkpreview.PreviewRefused, linkpreview.PreviewFailed) as error:
        logger.info("link preview image not fetched: %s", error)
        return ""
    if len(fetched.body) > conf["LINK_PREVIEW_IMAGE_MAX_BYTES"]:
        logger.info("link preview image over %d bytes", conf["LINK_PREVIEW_IMAGE_MAX_BYTES"])
        return ""
    sniffed = sniff(fetched.body[:HEAD_BYTES])
    if not sniffed.is_image:
        return ""
    try:
        picture = images.picture_from_image(
            io.BytesIO(fetched.body),
            kind=sniffed.kind,
            max_pixels=conf["IMAGE_MAX_PIXELS"],
            thumb_px=PREVIEW_IMAGE_PX,
        )
    except ImageTooLarge:
        return ""
    if picture is None:
        return ""
    name = storage.thumbnail_name_for(
        storage.new_storage_name(folder=storage.PREVIEWS), mime=picture.thumbnail_mime
    )
    storage.save_exactly(name, picture.thumbnail)
    return name


def _link_preview_for(url: str, *, now: datetime) -> LinkPreview:
    """The cached card of a URL, fetched again when older than the cache period."""
    conf = settings.MESSENGER_FILES
    key = _url_hash(url)
    cached = LinkPreview.objects.filter(url_hash=key).first()
    if cached is not None and cached.fetched_at > now - timedelta(
        seconds=conf["LINK_PREVIEW_CACHE_SECONDS"]
    ):
        return cached
    rules = linkpreview.Rules.from_settings(conf)
    found: dict[str, str] = {}
    image_name = ""
    try:
        page = linkpreview.fetch(
            url,
            rules=rules,
            accept="text/html,application/xhtml+xml",
            max_bytes=conf["LINK_PREVIEW_MAX_BYTES"],
        )
        if page.content_type not in ("text/html", "application/xhtml+xml"):
            raise linkpreview.PreviewFailed(f"not a page ({page.content_type or 'no type'})")
        found = linkpreview.parse_page(page)
        ok = bool(found["title"] or found["description"])
        status = LinkPreview.Status.OK if ok else LinkPreview.Status.FAILED
        if status == LinkPreview.Status.OK and found["image_url"]:
            image_name = _fetch_preview_image(found["image_url"], rules)
    except linkpreview.PreviewRefused as error:
        logger.warning("link preview refused for url hash %s: %s", key[:12], error)
        status = LinkPreview.Status.BLOCKED
    except linkpreview.PreviewFailed as error:
        logger.info("link preview failed for url hash %s: %s", key[:12], error)
        status = LinkPreview.Status.FAILED
    values = {
        "url": url,
        "status": status,
        "title": found.get("title", ""),
        "description": found.get("description", ""),
        "site_name": found.get("site_name", ""),
        "image_name": image_name,
        "fetched_at": now,
    }
    old_image = cached.image_name if cached is not None else ""
    preview, _created = LinkPreview.objects.update_or_create(url_hash=key, defaults=values)
    if old_image and old_image != image_name:
        storage.delete_quietly([old_image])
    return preview


def link_preview_attach(*, message_pk: int) -> bool:
    """Give a talk message the card of its first URL (fetched or cached) and push it as
    message_updated; False when previews are off, there is no URL, or no card was made."""
    if not settings.MESSENGER_FILES["LINK_PREVIEWS"]:
        return False
    message = Message.objects.filter(pk=message_pk).first()
    if message is None or message.type != Message.Type.TALK or message.state:
        return False
    url = linkpreview.first_url(message.body)
    if url is None:
        return False
    preview = _link_preview_for(url, now=timezone.now())
    if preview.status != LinkPreview.Status.OK:
        return False
    card = {
        "url": url,
        "title": preview.title,
        "description": preview.description,
        "site_name": preview.site_name,
        "image": f"/api/link-previews/{preview.token}/image" if preview.image_name else None,
    }
    return message_services.message_meta_set(message_pk=message.pk, key="link", value=card)


def link_preview_wanted(message: Message) -> bool:
    """Whether a newly stored message should get a link preview fetched."""
    return (
        bool(settings.MESSENGER_FILES["LINK_PREVIEWS"])
        and message.type == Message.Type.TALK
        and linkpreview.first_url(message.body) is not None
    )
