"""Admin for people, orgs, HR interface rows and the action log (staff only, /admin/)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from orgsync.models import ActionLog, InterfaceOrg, InterfaceUser, Org, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("name", "user_id")
    list_display = ("user_id", "name", "org", "job", "is_active", "is_synced", "is_staff")
    list_filter = ("is_active", "is_synced", "is_staff", "org")
    search_fields = ("user_id", "name", "nickname", "job", "tel_no", "org__name")
    readonly_fields = ("last_login", "created_at", "modified_at", "last_seen_at")
    fieldsets = (
        (None, {"fields": ("user_id", "password", "name", "id_kind")}),
        ("Organisation", {"fields": ("org", "job", "tel_no", "nickname", "picture")}),
        ("Absence", {"fields": ("absence_code", "absence_text")}),
        (
            "Notifications",
            {"fields": ("notify_off", "hide_body", "hide_sender", "quiet_from", "quiet_to")},
        ),
        (
            "Access",
            {"fields": ("is_active", "is_synced", "is_staff", "is_superuser", "groups")},
        ),
        ("History", {"fields": ("last_login", "last_seen_at", "created_at", "modified_at")}),
    )
    add_fieldsets = ((None, {"fields": ("user_id", "name", "org", "password1", "password2")}),)


@admin.register(Org)
class OrgAdmin(admin.ModelAdmin):
    list_display = ("org_cd", "name", "level", "seq", "parent", "is_active")
    list_filter = ("level", "is_active")
    search_fields = ("org_cd", "name")
    ordering = ("seq",)


@admin.register(InterfaceOrg)
class InterfaceOrgAdmin(admin.ModelAdmin):
    list_display = ("dtkey", "org_cd", "org_nm", "seq", "lvl")
    list_filter = ("dtkey",)


@admin.register(InterfaceUser)
class InterfaceUserAdmin(admin.ModelAdmin):
    list_display = ("dtkey", "user_id", "user_nm", "org_cd", "job")
    list_filter = ("dtkey",)
    search_fields = ("user_id", "user_nm")


@admin.register(ActionLog)
class ActionLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "work", "device", "state", "duration_seconds")
    list_filter = ("work", "device")
    search_fields = ("user__user_id", "user__name")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
