from django.contrib import admin

from messages.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Read-only, for audit: messages are changed only by their senders through the app."""

    list_display = ("created_at", "room", "seq", "sender", "type", "state")
    list_filter = ("type", "state")
    search_fields = ("body", "sender__user_id", "sender__name")
    list_select_related = ("room", "sender")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
