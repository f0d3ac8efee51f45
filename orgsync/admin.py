"""Admin for people, orgs, the HR interface (batches, rows, sync runs) and the action log.

Staff only, at /admin/ with its own session login (the API's tokens do not open it). Actions
call the same services as the API, so deactivating here closes the person's live sockets.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import transaction
from django.db.models import Count, F, IntegerField, Min, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from messenger.errors import ApplicationError, DirectoryUnavailable
from orgsync import services
from orgsync.models import (
    ActionLog,
    InterfaceBatch,
    InterfaceOrg,
    InterfaceUser,
    Org,
    SyncRun,
    User,
)
from orgsync.pictures import picture_normalize
from orgsync.sync import counts_text, hr_sync_run, problem_line, sample_line
from orgsync.sync.run import batch_older_than_applied
from orgsync.tasks import hr_sync

HR_FIELDS = ("user_id", "name", "org", "job", "tel_no", "absence_code", "absence_text")
# What makes an account an admin: only a superuser may change these.
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")
SHOWN_IN_MESSAGES = 5


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by HR or by the system: admins look, they do not edit."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- people ----------------------------------------------------------------------------------


class PersonChangeForm(UserChangeForm):
    """The change form; a new picture goes through the same checks as the API's upload."""

    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"

    def clean_picture(self) -> Any:
        upload = self.cleaned_data.get("picture")
        if not isinstance(upload, UploadedFile):
            return upload
        try:
            jpeg = picture_normalize(data=upload.read())
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None
        return SimpleUploadedFile(f"{secrets.token_hex(16)}.jpg", jpeg, "image/jpeg")


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("synced", "HR sync"), ("manual", "manual")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("synced", "manual"):
            return queryset.filter(is_synced=self.value() == "synced")
        return queryset


class AbsenceFilter(admin.SimpleListFilter):
    title = "absence"
    parameter_name = "absence"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        codes = (
            User.objects.exclude(absence_code="")
            .values_list("absence_code", flat=True)
            .distinct()
            .order_by("absence_code")[:20]
        )
        return [("any", "absent (any reason)"), ("none", "not absent")] + [
            (f"code:{code}", code) for code in codes
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or ""
        if value == "any":
            return queryset.exclude(absence_code="")
        if value == "none":
            return queryset.filter(absence_code="")
        if value.startswith("code:"):
            return queryset.filter(absence_code=value[5:])
        return queryset


class BranchFilter(admin.SimpleListFilter):
    """People in an org and every org below it. Lists the top two levels; any org's people are
    reached from its 'people' link in the org list."""

    title = "org (with the orgs below it)"
    parameter_name = "branch"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        active = Org.objects.filter(is_active=True)
        top = active.order_by("level").values_list("level", flat=True).first()
        if top is None:
            return []
        return [
            (str(org.pk), f"{'— ' * (org.level - top)}{org.name}")
            for org in active.filter(level__lte=top + 1).order_by("seq")
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        try:
            root = int(self.value() or "")
        except ValueError:
            return queryset
        children: dict[int | None, list[int]] = {}
        for pk, parent in Org.objects.values_list("id", "parent_id"):
            children.setdefault(parent, []).append(pk)
        branch, todo = set(), [root]
        while todo:
            pk = todo.pop()
            if pk not in branch:
                branch.add(pk)
                todo.extend(children.get(pk, []))
        return queryset.filter(org_id__in=branch)


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login, where a synced staff member's password is checked by the company
    directory (orgsync/auth_backends.py): a directory that cannot be reached is said so on the
    form, as the API's 503 says it, instead of a server error."""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except DirectoryUnavailable as error:
            raise forms.ValidationError(error.message, code=error.code) from error


admin.site.login_form = AdminLoginForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = PersonChangeForm
    ordering = ("name", "user_id")
    list_display = (
        "user_id",
        "name",
        "org_display",
        "job",
        "tel_no",
        "absence_display",
        "is_active",
        "source",
        "is_staff",
        "last_login",
    )
    list_select_related = ("org",)
    list_filter = ("is_active", SourceFilter, AbsenceFilter, BranchFilter, "is_staff")
    search_fields = (
        "user_id",
        "name",
        "nickname",
        "job",
        "tel_no",
        "org__name",
        "org__org_cd",
    )
    list_per_page = 100
    autocomplete_fields = ("org",)
    actions = ("deactivate", "reactivate", "set_password", "close_sessions")
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
            {
                "fields": ("is_active", "is_synced", "is_staff", "is_superuser", "groups"),
                "description": "Deactivating closes the person's live connections and their "
                "tokens stop working. A deactivated HR-synced account becomes manual, so the "
                "next HR batch does not reactivate it.",
            },
        ),
        (
            "History",
            {
                "fields": (
                    "last_login",
                    "last_seen_at",
                    "created_by",
                    "created_at",
                    "modified_by",
                    "modified_at",
                )
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "fields": ("user_id", "name", "org", "usable_password", "password1", "password2"),
                "description": "A person added here is a manual account: the HR sync leaves it "
                "alone.",
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = ("last_login", "last_seen_at", "created_by", "created_at", "modified_by")
        fields += ("modified_at",)
        if obj is not None and obj.is_synced:
            # HR owns these: an edit here would be undone by the next batch.
            fields += HR_FIELDS
        if not request.user.is_superuser:
            # Otherwise anyone who may change people could make themselves a superuser.
            fields += PRIVILEGE_FIELDS
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A superuser's account (and password) is changed by superusers only.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # People are deactivated, never deleted in bulk: their messages and rooms stay.
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="org", ordering="org__seq")
    def org_display(self, obj: User) -> str:
        return f"{obj.org.name} ({obj.org.org_cd})" if obj.org_id else "-"

    @admin.display(description="absence", ordering="absence_code")
    def absence_display(self, obj: User) -> str:
        if not obj.absence_code:
            return ""
        return f"{obj.absence_code} {obj.absence_text}".strip()

    @admin.display(description="source", boolean=False, ordering="is_synced")
    def source(self, obj: User) -> str:
        return "HR sync" if obj.is_synced else "manual"

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        wanted_active = obj.is_active
        toggled = change and "is_active" in form.changed_data
        if toggled:
            # Saved as it was; the service below changes it and closes live sessions.
            obj.is_active = not wanted_active
        old_picture = ""
        if change and "picture" in form.changed_data:
            old_picture = User.objects.filter(pk=obj.pk).values_list("picture", flat=True)[0]
        obj.modified_by = request.user.user_id
        super().save_model(request, obj, form, change)
        if old_picture and old_picture != obj.picture.name:
            transaction.on_commit(lambda: default_storage.delete(old_picture), robust=True)
        if toggled:
            self._set_active(request, [obj.pk], wanted_active)
            obj.refresh_from_db()

    def _set_active(self, request: HttpRequest, pks: list[int], active: bool) -> int | None:
        """How many accounts changed, or None when the service refused (and said why)."""
        try:
            changed = services.users_set_active(actor=request.user, user_pks=pks, active=active)
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        return len(changed)

    @admin.action(description="Deactivate (closes their live connections)", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        synced = queryset.filter(is_active=True, is_synced=True).count()
        count = self._set_active(request, list(queryset.values_list("pk", flat=True)), False)
        if count == 0:
            self.message_user(request, "None of them was active.", messages.INFO)
        if count:
            note = (
                f" {synced} of them came from HR and are now manual accounts, so the next HR "
                "batch does not reactivate them."
                if synced
                else ""
            )
            self.message_user(request, f"Deactivated {count} account(s).{note}", messages.SUCCESS)

    @admin.action(description="Reactivate", permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = self._set_active(request, list(queryset.values_list("pk", flat=True)), True)
        if count is not None:
            self.message_user(request, f"Reactivated {count} account(s).", messages.SUCCESS)

    @admin.action(description="Set password (one person)", permissions=["change"])
    def set_password(self, request: HttpRequest, queryset: QuerySet) -> HttpResponseRedirect | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one person.", messages.WARNING)
            return None
        person = queryset.get()
        if not self.has_change_permission(request, person):
            self.message_user(
                request, "Only a superuser may set a superuser's password.", messages.ERROR
            )
            return None
        return HttpResponseRedirect(reverse("admin:auth_user_password_change", args=[person.pk]))

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponseBase:
        """Django's set-password form; once a new password is saved, the person's live sockets
        are closed too (4001): their older tokens no longer open new ones."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            person = self.get_object(request, unquote(id))
            if person is not None:
                services.user_sessions_close(actor=request.user, user_pks=[person.pk])
        return response

    @admin.action(description="Close live connections", permissions=["change"])
    def close_sessions(self, request: HttpRequest, queryset: QuerySet) -> None:
        pks = services.user_sessions_close(
            actor=request.user, user_pks=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(
            request,
            f"Closed the live connections of {len(pks)} account(s). Their tokens are still "
            "valid, so their apps reconnect; to lock someone out, deactivate them.",
            messages.SUCCESS,
        )


# --- orgs ------------------------------------------------------------------------------------


@admin.register(Org)
class OrgAdmin(admin.ModelAdmin):
    """The org chart, indented by level in SEQ order. HR's batches own it: an edit here lasts
    until the next batch."""

    list_display = ("tree_name", "org_cd", "level", "seq", "parent", "people", "is_active")
    list_display_links = ("tree_name",)
    list_filter = ("is_active", "level")
    search_fields = ("org_cd", "name")
    ordering = ("seq", "org_cd")
    list_select_related = ("parent",)
    list_per_page = 200
    readonly_fields = ("created_at", "updated_at")
    autocomplete_fields = ("parent",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        active_people = (
            User.objects.filter(org=OuterRef("pk"), is_active=True)
            .order_by()
            .values("org")
            .annotate(n=Count("pk"))
            .values("n")
        )
        top = Org.objects.aggregate(top=Min("level"))["top"] or 0
        return (
            super()
            .get_queryset(request)
            .annotate(
                people_count=Coalesce(Subquery(active_people, output_field=IntegerField()), 0),
                depth=F("level") - Value(top),
            )
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Orgs are deactivated (by the sync or here), never deleted: people point to them.
        return False

    @admin.display(description="name", ordering="seq")
    def tree_name(self, obj: Org) -> str:
        return format_html(
            '<span style="padding-left:{}em">{}{}</span>',
            max(obj.depth, 0) * 1.5,  # type: ignore[attr-defined]
            "└ " if obj.parent_id else "",
            obj.name,
        )

    @admin.display(description="active people", ordering="people_count")
    def people(self, obj: Org) -> str:
        url = reverse("admin:orgsync_user_changelist") + "?" + urlencode({"org__id__exact": obj.pk})
        return format_html('<a href="{}">{}</a>', url, obj.people_count)  # type: ignore[attr-defined]


# --- the HR interface ------------------------------------------------------------------------


def _rows(model: type, dtkey_field: str = "dtkey") -> Subquery:
    return Subquery(
        model.objects.filter(dtkey=OuterRef("dtkey"))
        .order_by()
        .values(dtkey_field)
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )


class BatchForm(forms.ModelForm):
    """Admins may hold a batch (WRITING) or release it (READY); the other states are the sync's."""

    SETTABLE = (InterfaceBatch.Status.WRITING, InterfaceBatch.Status.READY)

    class Meta:
        model = InterfaceBatch
        fields = ("status", "note")

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if status != self.instance.status and status not in self.SETTABLE:
            raise forms.ValidationError(
                "Only WRITING (hold it) or READY (apply it) can be set here; the sync sets "
                "APPLIED, REJECTED and SUPERSEDED."
            )
        return status


@admin.register(InterfaceBatch)
class InterfaceBatchAdmin(admin.ModelAdmin):
    """HR's control rows. HR sets READY when a batch is complete (docs/hr-interface.md); the
    sync sets APPLIED, REJECTED or SUPERSEDED. Admins may change the status, e.g. set a
    corrected REJECTED batch back to READY."""

    list_display = (
        "dtkey",
        "status",
        "org_rows",
        "user_rows",
        "checked_at",
        "applied_at",
        "runs",
        "note",
    )
    form = BatchForm
    list_filter = ("status",)
    search_fields = ("dtkey",)
    fields = ("dtkey", "status", "org_count", "user_count", "note", "checked_at", "applied_at")
    readonly_fields = ("dtkey", "org_count", "user_count", "checked_at", "applied_at")
    actions = ("dry_run", "apply_now", "apply_good_rows")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                org_rows_found=Coalesce(_rows(InterfaceOrg), 0),
                user_rows_found=Coalesce(_rows(InterfaceUser), 0),
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="org rows (found / announced)")
    def org_rows(self, obj: InterfaceBatch) -> str:
        return f"{obj.org_rows_found} / {obj.org_count}"  # type: ignore[attr-defined]

    @admin.display(description="user rows (found / announced)")
    def user_rows(self, obj: InterfaceBatch) -> str:
        return f"{obj.user_rows_found} / {obj.user_count}"  # type: ignore[attr-defined]

    @admin.display(description="sync runs")
    def runs(self, obj: InterfaceBatch) -> str:
        url = reverse("admin:orgsync_syncrun_changelist") + "?" + urlencode({"dtkey": obj.dtkey})
        return format_html('<a href="{}">runs</a>', url)

    @admin.action(description="Dry run: show what applying would change", permissions=["view"])
    def dry_run(self, request: HttpRequest, queryset: QuerySet) -> None:
        for batch in queryset.order_by("dtkey")[:3]:
            outcome = hr_sync_run(dtkey=batch.dtkey, dry_run=True)
            level = messages.INFO if outcome.status == "dry_run" else messages.WARNING
            lines = [outcome.message]
            if outcome.counts:
                lines.append(counts_text(outcome.counts))
            lines += [sample_line(s) for s in outcome.sample[:SHOWN_IN_MESSAGES]]
            lines += [problem_line(p) for p in outcome.problems[:SHOWN_IN_MESSAGES]]
            if outcome.problem_count > SHOWN_IN_MESSAGES:
                lines.append(f"... {outcome.problem_count} problems in all.")
            self.message_user(request, " | ".join(lines), level)

    @admin.action(description="Apply now (queues a sync run of this batch)", permissions=["change"])
    def apply_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._queue_run(request, queryset, skip_bad_rows=None)

    @admin.action(
        description=_("Apply the good rows now, report the bad ones (queues a sync run)"),
        permissions=["change"],
    )
    def apply_good_rows(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._queue_run(request, queryset, skip_bad_rows=True)

    def _queue_run(
        self, request: HttpRequest, queryset: QuerySet, *, skip_bad_rows: bool | None
    ) -> None:
        """Queue a run of one batch; skip_bad_rows None follows HR_SYNC_SKIP_BAD_ROWS."""
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one batch."), messages.WARNING)
            return
        batch = queryset.get()
        if batch.status == InterfaceBatch.Status.WRITING:
            self.message_user(
                request,
                _("Batch %(dtkey)s is still being written (WRITING); it cannot be applied.")
                % {"dtkey": batch.dtkey},
                messages.ERROR,
            )
            return
        too_old = batch_older_than_applied(batch)
        if too_old:
            # Forcing an old batch is left to manage.py hr_sync --force-old-batch.
            self.message_user(request, too_old, messages.ERROR)
            return
        user_pk = request.user.pk
        dtkey = batch.dtkey
        transaction.on_commit(
            lambda: hr_sync.delay(dtkey=dtkey, requested_by_pk=user_pk, skip_bad_rows=skip_bad_rows)
        )
        if skip_bad_rows:
            text = _(
                "A sync run of batch %(dtkey)s is queued: its good rows are applied and its bad "
                "rows are listed row by row on the run; follow it under Sync runs."
            )
        else:
            text = _("A sync run of batch %(dtkey)s is queued; follow it under Sync runs.")
        self.message_user(request, text % {"dtkey": dtkey}, messages.SUCCESS)


@admin.register(InterfaceOrg)
class InterfaceOrgAdmin(ReadOnlyAdmin):
    list_display = ("dtkey", "seq", "lvl", "org_cd", "org_nm", "parent_cd")
    list_filter = ("dtkey",)
    search_fields = ("=dtkey", "org_cd", "org_nm")
    ordering = ("-dtkey", "seq")


@admin.register(InterfaceUser)
class InterfaceUserAdmin(ReadOnlyAdmin):
    list_display = ("dtkey", "user_id", "user_nm", "org_cd", "job", "tel_no", "ab_cd")
    list_filter = ("dtkey",)
    search_fields = ("=dtkey", "user_id", "user_nm", "org_cd")
    ordering = ("-dtkey", "id")


def _problem_level(problem: dict[str, Any]) -> str:
    if problem.get("skipped"):
        return str(_("row not applied"))
    return "error" if problem.get("fatal", True) else "warning"


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "status",
        "dtkey",
        "trigger",
        "requested_by",
        "orgs_summary",
        "people_summary",
        "problem_count",
        "seconds",
    )
    # A date filter, not date_hierarchy: that needs MySQL's time zone tables loaded.
    list_filter = ("status", "trigger", "started_at")
    search_fields = ("=dtkey", "requested_by")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "status",
                    "message",
                    "dtkey",
                    "trigger",
                    "requested_by",
                    "started_at",
                    "finished_at",
                )
            },
        ),
        (
            "Orgs",
            {
                "fields": (
                    "orgs_created",
                    "orgs_reactivated",
                    "orgs_moved",
                    "orgs_renamed",
                    "orgs_updated",
                    "orgs_deactivated",
                )
            },
        ),
        (
            "People",
            {
                "fields": (
                    "users_created",
                    "users_reactivated",
                    "users_moved",
                    "users_updated",
                    "users_deactivated",
                    "users_skipped",
                )
            },
        ),
        ("Problems", {"fields": ("problem_count", "problem_table")}),
        ("Sample of the changes", {"fields": ("sample_lines",)}),
    )

    @admin.display(description="orgs +/~/-")
    def orgs_summary(self, obj: SyncRun) -> str:
        changed = obj.orgs_reactivated + obj.orgs_moved + obj.orgs_renamed + obj.orgs_updated
        return f"{obj.orgs_created} / {changed} / {obj.orgs_deactivated}"

    @admin.display(description="people +/~/-")
    def people_summary(self, obj: SyncRun) -> str:
        changed = obj.users_reactivated + obj.users_moved + obj.users_updated
        return f"{obj.users_created} / {changed} / {obj.users_deactivated}"

    @admin.display(description="seconds")
    def seconds(self, obj: SyncRun) -> str:
        return "running" if obj.duration_seconds is None else f"{obj.duration_seconds:.1f}"

    @admin.display(description="problems, row by row")
    def problem_table(self, obj: SyncRun) -> str:
        if not obj.problems:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    p.get("table"),
                    p.get("row") if p.get("row") is not None else "",
                    p.get("key"),
                    _problem_level(p),
                    p.get("message"),
                )
                for p in obj.problems
            ),
        )
        more = ""
        if obj.problem_count > len(obj.problems):
            more = f"The first {len(obj.problems)} of {obj.problem_count} problems are shown."
        return format_html(
            "<table><tr><th>table</th><th>row id</th><th>key</th><th></th><th>problem</th></tr>"
            "{}</table>{}",
            rows,
            more,
        )

    @admin.display(description="sample")
    def sample_lines(self, obj: SyncRun) -> str:
        if not obj.sample:
            return "-"
        return format_html_join("", "<div>{}</div>", ((sample_line(s),) for s in obj.sample))


# --- the action log --------------------------------------------------------------------------


@admin.register(ActionLog)
class ActionLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "user",
        "work",
        "device",
        "state",
        "duration_seconds",
        "detail",
    )
    # A date filter, not date_hierarchy: that needs MySQL's time zone tables loaded.
    list_filter = ("work", "device", "state", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__user_id", "user__name", "detail")
    show_full_result_count = False
