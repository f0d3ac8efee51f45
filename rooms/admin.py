from django.contrib import admin

from rooms.models import Room, RoomMember


class RoomMemberInline(admin.TabularInline):
    model = RoomMember
    fields = ("user", "state", "nickname", "muted", "joined_seq", "last_read_seq", "left_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "name", "master", "member_count", "last_seq", "last_message_at")
    list_filter = ("kind", "state")
    search_fields = ("name", "members__user__user_id", "members__user__name")
    readonly_fields = ("kind", "master", "member_count", "last_seq", "last_message_at")
    fields = ("kind", "name", "master", "state", "member_count", "last_seq", "last_message_at")
    inlines = [RoomMemberInline]
