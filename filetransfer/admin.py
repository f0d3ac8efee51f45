from django.contrib import admin

from filetransfer.models import FileLog


@admin.register(FileLog)
class FileLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "original_name", "size", "room", "sender", "state", "expires_at")
    list_filter = ("state",)
    search_fields = ("original_name", "sender__user_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
