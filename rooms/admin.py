"""Rooms with their members, for admins to look at (audit and support). Read-only: rooms change
only through the app's services, which tell the members' clients; an edit here would not."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from rooms.models import Room, RoomMember


class RoomMemberInline(admin.TabularInline):
    model = RoomMember
    fields = (
        "user",
        "state",
        "nickname",
        "muted",
        "joined_seq",
        "last_read_seq",
        "created_at",
        "left_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("id",)

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "name",
        "master",
        "member_count",
        "last_seq",
        "last_message_at",
        "state",
        "message_link",
    )
    list_filter = ("kind", "state", "created_at")
    list_select_related = ("master",)
    search_fields = ("=id", "name", "members__user__user_id", "members__user__name")
    fields = (
        "kind",
        "name",
        "master",
        "state",
        "member_count",
        "last_seq",
        "last_message_at",
        "created_at",
        "message_link",
    )
    readonly_fields = fields
    inlines = [RoomMemberInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="messages")
    def message_link(self, obj: Room) -> str:
        url = (
            reverse("admin:talk_message_changelist") + "?" + urlencode({"room__id__exact": obj.pk})
        )
        return format_html('<a href="{}">{} messages</a>', url, obj.last_seq)
