"""Admin of stored files: the file log for audit (read-only), and "expire now"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat

from filetransfer import services
from filetransfer.models import FileLog, LinkPreview


@admin.register(FileLog)
class FileLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "original_name",
        "human_size",
        "room",
        "sender",
        "message_type",
        "state",
        "expires_at",
    )
    list_filter = ("state", "content_type")
    search_fields = ("original_name", "sender__user_id", "sender__name", "sha256")
    list_select_related = ("room", "sender", "message")
    actions = ("expire_now",)
    readonly_fields = [f.name for f in FileLog._meta.fields]

    @admin.display(description="size", ordering="size")
    def human_size(self, obj: FileLog) -> str:
        return filesizeformat(obj.size)

    @admin.display(description="message")
    def message_type(self, obj: FileLog) -> str:
        if obj.message is None:
            return "—"
        return "forward" if obj.source_id else obj.message.type

    @admin.action(
        description="Expire now (delete the file, keep the messages)", permissions=["expire"]
    )
    def expire_now(self, request: HttpRequest, queryset: QuerySet[FileLog]) -> None:
        count = services.file_logs_expire_now(
            file_log_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(
            request,
            f"{count} stored file(s) expired; their messages (and forwards) now show as expired.",
            messages.SUCCESS,
        )

    def has_expire_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("filetransfer.change_filelog")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: FileLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: FileLog | None = None) -> bool:
        return False


@admin.register(LinkPreview)
class LinkPreviewAdmin(admin.ModelAdmin):
    list_display = ("fetched_at", "status", "title", "url")
    list_filter = ("status",)
    search_fields = ("url", "title")
    readonly_fields = [f.name for f in LinkPreview._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LinkPreview | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LinkPreview | None = None) -> bool:
        # Its image would stay in storage; the expiry job drops old previews with their images.
        return False
