from django.contrib import admin

from messages.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Read-only, for audit: messages are changed only by their senders through the app."""

    list_display = ("created_at", "room", "seq", "sender", "type", "state")
    # A date filter rather than date_hierarchy: the latter needs MySQL's time zone tables,
    # which a fresh MariaDB lacks (it raises on the list page).
    list_filter = ("type", "state", "created_at")
    search_fields = ("body", "sender__user_id", "sender__name")
    list_select_related = ("room", "sender")

    # Shown on every page of this admin, so nobody mistakes it for a place to moderate.
    audit_note = (
        "Read-only audit view: messages are private correspondence. Open them only for a "
        "documented audit or legal request; nothing here can be changed or deleted."
    )

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {**(extra_context or {}), "subtitle": self.audit_note}
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {**(extra_context or {}), "subtitle": self.audit_note}
        return super().change_view(request, object_id, form_url, context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
