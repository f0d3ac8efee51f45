"""Writing a plan: bulk inserts and updates in chunks, deactivations by primary key.

Changed rows are written as upserts (INSERT ... ON DUPLICATE KEY UPDATE on MySQL/MariaDB,
ON CONFLICT on SQLite) of their primary keys: one statement per chunk, several times faster
than bulk_update's CASE WHEN per column. The caller holds the batch's transaction; a failure
anywhere rolls the whole batch back.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, models, transaction
from django.utils import timezone

from orgsync.models import Org, User
from orgsync.sync.batch import id_key
from orgsync.sync.conf import hr_sync_int
from orgsync.sync.plan import USER_FIELDS, Plan

# progress(phase, done, total): called after every chunk, for the command's progress bar.
Progress = Callable[[str, int, int], None]
SYNC_ACTOR = "hr-sync"  # created_by / modified_by of what the sync writes
ORG_UPDATE_FIELDS = ["org_cd", "name", "seq", "level", "parent", "is_active", "updated_at"]
USER_UPDATE_FIELDS = ["user_id", "org", "is_active", "modified_by", "modified_at", *USER_FIELDS]

T = TypeVar("T")
M = TypeVar("M", bound=models.Model)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _noop(phase: str, done: int, total: int) -> None:
    return None


def unusable_password() -> str:
    """What make_password(None) stores, made without its slow per-character random choice."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def _upsert_options(update_fields: list[str]) -> dict[str, Any]:
    """bulk_create options that update the rows whose primary key exists."""
    options: dict[str, Any] = {"update_conflicts": True, "update_fields": update_fields}
    if connection.features.supports_update_conflicts_with_target:
        options["unique_fields"] = ["id"]
    return options


def _write(
    model: type[M],
    objs: list[M],
    *,
    update_fields: list[str] | None,
    size: int,
    phase: str,
    progress: Progress,
) -> None:
    """bulk_create in chunks; with update_fields, rows whose primary key exists are updated."""
    options = _upsert_options(update_fields) if update_fields else {}
    for done, chunk in enumerate(_chunks(objs, size), start=1):
        model._default_manager.bulk_create(chunk, **options)
        progress(phase, min(done * size, len(objs)), len(objs))


def _apply_orgs(plan: Plan, size: int, progress: Progress) -> dict[str, int]:
    now = timezone.now()
    new = [
        Org(org_cd=t.org_cd, name=t.name, seq=t.seq, level=t.level, is_active=True)
        for t in plan.org_creates
    ]
    _write(Org, new, update_fields=None, size=size, phase="orgs created", progress=progress)
    # One read of all codes gives the new orgs' keys on every backend, so parents can be linked
    # by primary key in the upsert below.
    pk_by_key = {id_key(code): pk for pk, code in Org.objects.values_list("id", "org_cd")}
    linked = [
        Org(
            pk=pk_by_key[id_key(t.org_cd)],
            org_cd=t.org_cd,
            name=t.name,
            seq=t.seq,
            level=t.level,
            parent_id=pk_by_key[t.parent_key] if t.parent_key else None,
            is_active=True,
            created_at=now,
            updated_at=now,
        )
        for t in [*[c for c in plan.org_creates if c.parent_key], *plan.org_updates]
    ]
    _write(
        Org,
        linked,
        update_fields=ORG_UPDATE_FIELDS,
        size=size,
        phase="orgs linked",
        progress=progress,
    )
    for chunk in _chunks(plan.org_deactivations, size):
        Org.objects.filter(pk__in=chunk).update(is_active=False, updated_at=now)
    return pk_by_key


@dataclass
class Applied:
    """The people whose account a run turned off or back on (primary keys, locked)."""

    deactivated: list[int] = field(default_factory=list)
    reactivated: list[int] = field(default_factory=list)


def _apply_users(plan: Plan, org_pks: dict[str, int], size: int, progress: Progress) -> Applied:
    def person(
        pk: int | None, user_id: str, org_key: str, fields: dict[str, str], active: bool = True
    ) -> User:
        return User(
            pk=pk,
            user_id=user_id,
            org_id=org_pks[org_key],
            is_synced=True,
            is_active=active,
            # Nobody can log in until an admin or the company's sign-on sets a password.
            password=unusable_password(),
            created_by=SYNC_ACTOR,
            modified_by=SYNC_ACTOR,
            **fields,
        )

    new = [person(None, t.user_id, t.org_key, t.fields) for t in plan.user_creates]
    _write(User, new, update_fields=None, size=size, phase="people created", progress=progress)
    # Existing people: only the HR columns are updated; the password and everything else
    # stay as they are. The plan was read without locks: each chunk's people are locked and
    # read again, and whoever an admin has taken over since (deactivating a synced account
    # makes it manual) is left alone, so the upsert cannot undo that.
    updates = plan.user_updates
    applied = Applied()
    for done, chunk in enumerate(_chunks(updates, size), start=1):
        current = {
            row["id"]: row
            for row in User.objects.select_for_update()
            .filter(pk__in=[t.pk for t in chunk], is_synced=True)
            .order_by("pk")
            .values("id", "is_active", "is_staff", "is_superuser")
        }
        changed = [
            person(
                t.pk,
                t.user_id,
                t.org_key,
                t.fields,
                # The sync never changes whether a staff or superuser account is active.
                row["is_active"] if row["is_staff"] or row["is_superuser"] else t.is_active,
            )
            for t in chunk
            if (row := current.get(t.pk)) is not None
        ]
        if changed:
            User._default_manager.bulk_create(changed, **_upsert_options(USER_UPDATE_FIELDS))
            applied.reactivated += [
                p.pk for p in changed if p.is_active and not current[p.pk]["is_active"]
            ]
        progress("people updated", min(done * size, len(updates)), len(updates))
    now = timezone.now()
    gone = plan.user_deactivations
    for done, chunk in enumerate(_chunks(gone, size), start=1):
        # Checked again, under lock: an admin may have taken an account over (or made it an
        # admin account) since the plan was read.
        pks = list(
            User.objects.select_for_update()
            .filter(
                pk__in=chunk, is_synced=True, is_active=True, is_staff=False, is_superuser=False
            )
            .order_by("pk")
            .values_list("id", flat=True)
        )
        User.objects.filter(pk__in=pks).update(
            is_active=False, modified_by=SYNC_ACTOR, modified_at=now
        )
        applied.deactivated.extend(pks)
        progress("people deactivated", min(done * size, len(gone)), len(gone))
    return applied


def plan_apply(*, plan: Plan, progress: Progress | None = None) -> Applied:
    """Write every change of the plan inside the caller's transaction; return the primary keys
    of the people it deactivated and reactivated."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("plan_apply must run inside the batch's transaction")
    size = hr_sync_int("CHUNK_SIZE")
    report = progress or _noop
    org_pks = _apply_orgs(plan, size, report)
    return _apply_users(plan, org_pks, size, report)
