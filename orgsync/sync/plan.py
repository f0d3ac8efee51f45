"""The difference between a checked batch and the people and orgs in the database.

`plan_build` reads the current state in two queries and compares it in memory, so its cost does
not depend on the number of changes. Nothing here writes: a dry run prints the plan, a real run
hands it to `apply.plan_apply`.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from orgsync.models import Org, User
from orgsync.sync.batch import LoadedBatch, Problem, id_key
from orgsync.sync.conf import hr_sync_int

# Every changed org or person is counted once, in the first of these that applies.
ORG_ACTIONS = ("created", "reactivated", "moved", "renamed", "updated", "deactivated")
USER_ACTIONS = ("created", "reactivated", "moved", "updated", "deactivated", "skipped")
USER_FIELDS = ("name", "job", "tel_no", "absence_code", "absence_text")
SAMPLE_ORDER = ("deactivated", "moved", "renamed", "reactivated", "created", "updated", "skipped")


@dataclass
class OrgTarget:
    """What one org of the batch should look like; pk is None for a new org."""

    pk: int | None
    org_cd: str
    name: str
    seq: str
    level: int
    parent_key: str | None


@dataclass
class UserTarget:
    """What one person of the batch should look like; pk is None for a new person."""

    pk: int | None
    user_id: str
    org_key: str
    fields: dict[str, str]
    # False only to keep an inactive staff or superuser account inactive: the sync never
    # changes whether an admin account is active.
    is_active: bool = True


@dataclass
class Plan:
    dtkey: str
    org_creates: list[OrgTarget] = field(default_factory=list)
    org_updates: list[OrgTarget] = field(default_factory=list)
    org_deactivations: list[int] = field(default_factory=list)
    user_creates: list[UserTarget] = field(default_factory=list)
    user_updates: list[UserTarget] = field(default_factory=list)
    user_deactivations: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    active_synced_users: int = 0
    _samples: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def count(self, kind: str, action: str, key: str, changes: dict[str, Any] | None) -> None:
        name = f"{kind}s_{action}"
        self.counts[name] = self.counts.get(name, 0) + 1
        bucket = self._samples.setdefault((kind, action), [])
        if len(bucket) < hr_sync_int("SAMPLE_SIZE"):
            bucket.append({"kind": kind, "action": action, "key": key, "changes": changes})

    @property
    def changed(self) -> bool:
        return any(n for name, n in self.counts.items() if not name.endswith("_skipped"))

    def finish(self) -> None:
        for kind, actions in (("org", ORG_ACTIONS), ("user", USER_ACTIONS)):
            for action in actions:
                self.counts.setdefault(f"{kind}s_{action}", 0)
        # The sample takes from every kind of change in turn, the ones people worry about
        # first, so a thousand re-numbered orgs cannot hide the one person deactivated.
        order = [(k, a) for a in SAMPLE_ORDER for k in ("user", "org") if (k, a) in self._samples]
        size = hr_sync_int("SAMPLE_SIZE")
        self.sample = []
        for i in range(size):
            for bucket in order:
                if len(self.sample) < size and i < len(self._samples[bucket]):
                    self.sample.append(self._samples[bucket][i])
        self._samples = {}

    def mass_deactivation(self) -> str | None:
        """Why this plan deactivates too many people to be applied unasked, or None."""
        gone = len(self.user_deactivations)
        percent = hr_sync_int("MAX_DEACTIVATE_PERCENT")
        limit = max(
            hr_sync_int("MASS_DEACTIVATE_MIN"),
            math.floor(self.active_synced_users * percent / 100),
        )
        if gone <= limit:
            return None
        return (
            f"The batch would deactivate {gone} of {self.active_synced_users} active synced "
            f"people, more than the limit of {limit} ({percent}%, HR_SYNC_MAX_DEACTIVATE_PERCENT). "
            "If that is right, apply it with: manage.py hr_sync --dtkey "
            f"{self.dtkey} --allow-mass-deactivation"
        )


def _diff(current: Mapping[str, Any], target: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: [current[name], value] for name, value in target.items() if current[name] != value
    }


def _fold(value: str) -> str:
    """Roughly how utf8mb4_unicode_ci sees an id: case, accents and trailing spaces ignored.
    Only used to tell which batch row a clash found by the database belongs to."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().rstrip()


def _database_clashes(
    model: type[models.Model],
    column: str,
    new: Iterable[str],
    fields: Iterable[str],
) -> list[dict[str, Any]]:
    """Rows of model that the database's collation finds equal to one of the `new` ids (those
    id_key, which folds case only, matched to no row): MariaDB also ignores accents, so
    park.jiho and park.jího are one id to its unique index. The database decides, a chunk of
    ids at a time."""
    ids = sorted(set(new))
    size = hr_sync_int("CHUNK_SIZE")
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        found += model._default_manager.filter(**{f"{column}__in": chunk}).values(*fields)
    return found


def _plan_orgs(plan: Plan, loaded: LoadedBatch, codes: dict[str, str]) -> dict[str, int]:
    """Compare the batch's orgs with the Org table; return the existing pks by code key.

    `codes` maps every code key to the spelling shown to people; this fills it in."""
    existing = {
        id_key(row["org_cd"]): row
        for row in Org.objects.values(
            "id", "org_cd", "name", "seq", "level", "parent_id", "is_active"
        )
    }
    new_codes = {o.org_cd for o in loaded.orgs if id_key(o.org_cd) not in existing}
    by_fold = {_fold(o.org_cd): o for o in loaded.orgs}
    for row in _database_clashes(Org, "org_cd", new_codes, ["org_cd"]):
        # An org cannot be taken over like a person; inserting it would fail on the unique
        # index in every run, so the batch is refused with the clash named.
        org = by_fold.get(_fold(row["org_cd"]))
        plan.warnings.append(
            Problem(
                "org",
                org.row if org else None,
                org.org_cd if org else row["org_cd"],
                f"ORG_CD {org.org_cd if org else '(one of this batch)'} is the same code as the "
                f"existing org {row['org_cd']} for the database, which ignores letter case and "
                "accents; change one of them.",
            )
        )
    key_by_pk = {row["id"]: key for key, row in existing.items()}
    codes.update({key: row["org_cd"] for key, row in existing.items()})
    codes.update({id_key(org.org_cd): org.org_cd for org in loaded.orgs})
    in_batch = set()
    for org in loaded.orgs:
        key = id_key(org.org_cd)
        in_batch.add(key)
        current = existing.get(key)
        target = OrgTarget(
            current["id"] if current else None,
            org.org_cd,
            org.name,
            org.seq,
            org.level,
            org.parent_key,
        )
        if current is None:
            plan.org_creates.append(target)
            parent = codes[org.parent_key] if org.parent_key else None
            plan.count("org", "created", org.org_cd, {"name": org.name, "parent": parent})
            continue
        changes = _diff(
            current,
            {
                "org_cd": org.org_cd,
                "name": org.name,
                "seq": org.seq,
                "level": org.level,
                "is_active": True,
            },
        )
        old_parent = key_by_pk.get(current["parent_id"])
        if old_parent != org.parent_key:
            changes["parent"] = [codes.get(old_parent or ""), codes.get(org.parent_key or "")]
        if not changes:
            continue
        plan.org_updates.append(target)
        if "is_active" in changes:
            action = "reactivated"
        elif "parent" in changes:
            action = "moved"
        elif "name" in changes:
            action = "renamed"
        else:
            action = "updated"
        plan.count("org", action, org.org_cd, changes)
    # Orgs whose rows were left out (bad) are in the batch all the same: kept, not deactivated.
    in_batch |= loaded.kept_org_keys
    missing = [row for key, row in existing.items() if key not in in_batch and row["is_active"]]
    if missing and loaded.hold_org_deactivations:
        plan.warnings.append(
            Problem(
                "batch",
                None,
                loaded.dtkey,
                f"{len(missing)} org(s) not in the batch are left active: a bad org row without "
                "a usable ORG_CD may be one of them. The next batch without that row deactivates "
                "them.",
                fatal=False,
            )
        )
        missing = []
    for row in missing:
        plan.org_deactivations.append(row["id"])
        plan.count("org", "deactivated", row["org_cd"], None)
    return {key: row["id"] for key, row in existing.items()}


def _is_admin(row: Mapping[str, Any]) -> bool:
    return bool(row["is_staff"] or row["is_superuser"])


def _plan_users(
    plan: Plan, loaded: LoadedBatch, org_pks: dict[str, int], codes: dict[str, str]
) -> None:
    key_by_org_pk = {pk: key for key, pk in org_pks.items()}
    columns = (
        "id",
        "user_id",
        "org_id",
        "is_active",
        "is_synced",
        "is_staff",
        "is_superuser",
        *USER_FIELDS,
    )
    existing = {id_key(row["user_id"]): row for row in User.objects.values(*columns)}
    # An account the database holds under an id that equals a batch id only for its collation
    # (accents, trailing spaces) is that person: matched to the batch row, not inserted again.
    new_ids = {p.user_id for p in loaded.users if id_key(p.user_id) not in existing}
    by_fold = {_fold(p.user_id): p for p in loaded.users}
    for row in _database_clashes(User, "user_id", new_ids, columns):
        match = by_fold.get(_fold(row["user_id"]))
        if match is None:
            plan.warnings.append(
                Problem(
                    "user",
                    None,
                    row["user_id"],
                    f"The existing account {row['user_id']} has, for the database (which ignores "
                    "letter case and accents), the same id as a person of this batch; rename it "
                    "in admin or change the batch.",
                )
            )
            continue
        existing.pop(id_key(row["user_id"]), None)
        existing[id_key(match.user_id)] = row
    plan.active_synced_users = sum(
        1 for row in existing.values() if row["is_synced"] and row["is_active"]
    )
    in_batch = set()
    for person in loaded.users:
        key = id_key(person.user_id)
        in_batch.add(key)
        current = existing.get(key)
        org_key = id_key(person.org_cd)
        if current is None:
            plan.user_creates.append(UserTarget(None, person.user_id, org_key, person.fields))
            plan.count(
                "user",
                "created",
                person.user_id,
                {"name": person.fields["name"], "org": codes[org_key]},
            )
            continue
        if not current["is_synced"]:
            same = (
                ""
                if id_key(current["user_id"]) == key
                else f" (the database sees {person.user_id} and {current['user_id']} as one id: "
                "it ignores letter case and accents)"
            )
            plan.warnings.append(
                Problem(
                    "user",
                    person.row,
                    person.user_id,
                    f"{current['user_id']} is a manual account (not synced), so the sync leaves "
                    f"it alone{same}. To hand it over to HR, tick 'synced' on it in admin.",
                    fatal=False,
                )
            )
            plan.count("user", "skipped", person.user_id, None)
            continue
        # Whether an admin account is active is the admins' business, never the sync's.
        active = current["is_active"] if _is_admin(current) else True
        changes = _diff(current, {"user_id": person.user_id, "is_active": active, **person.fields})
        old_org = key_by_org_pk.get(current["org_id"])
        if old_org != org_key:
            changes["org"] = [codes.get(old_org or ""), codes[org_key]]
        if not changes:
            continue
        plan.user_updates.append(
            UserTarget(current["id"], person.user_id, org_key, person.fields, active)
        )
        if "is_active" in changes:
            action = "reactivated"
        elif "org" in changes:
            action = "moved"
        else:
            action = "updated"
        plan.count("user", action, person.user_id, changes)
    # People whose rows were left out (bad) are in the batch all the same: kept as they are,
    # never deactivated as missing.
    in_batch |= loaded.kept_user_keys
    held = 0
    for key, row in existing.items():
        if key not in in_batch and row["is_synced"] and row["is_active"]:
            if loaded.hold_user_deactivations and not _is_admin(row):
                held += 1
                continue
            if _is_admin(row):
                plan.warnings.append(
                    Problem(
                        "user",
                        None,
                        row["user_id"],
                        f"{row['user_id']} is not in the batch but is a staff or superuser "
                        "account, which the sync never deactivates; deactivate it in admin if "
                        "the person has left.",
                        fatal=False,
                    )
                )
                plan.count("user", "skipped", row["user_id"], None)
                continue
            plan.user_deactivations.append(row["id"])
            plan.count("user", "deactivated", row["user_id"], None)
    if held:
        plan.warnings.append(
            Problem(
                "batch",
                None,
                loaded.dtkey,
                f"{held} synced person(s) not in the batch are left active: a bad person row "
                "without a usable USER_ID may be one of them. The next batch without that row "
                "deactivates them.",
                fatal=False,
            )
        )


def _warn_about_orgs_left_with_manual_people(plan: Plan) -> None:
    if not plan.org_deactivations:
        return
    gone = set(plan.org_deactivations)
    crowded: dict[int, int] = {}
    for org_id in User.objects.filter(org_id__in=gone, is_active=True, is_synced=False).values_list(
        "org_id", flat=True
    ):
        crowded[org_id] = crowded.get(org_id, 0) + 1
    codes = dict(Org.objects.filter(pk__in=crowded).values_list("id", "org_cd"))
    for org_id, count in sorted(crowded.items()):
        plan.warnings.append(
            Problem(
                "org",
                None,
                codes[org_id],
                f"{codes[org_id]} is not in the batch and is deactivated, but {count} manual "
                "account(s) still belong to it; they no longer show in the org tree until an "
                "admin moves them.",
                fatal=False,
            )
        )


def plan_build(*, loaded: LoadedBatch) -> Plan:
    """The changes that would make the org chart and the synced people match a checked batch."""
    plan = Plan(dtkey=loaded.dtkey)
    codes: dict[str, str] = {}
    org_pks = _plan_orgs(plan, loaded, codes)
    _plan_users(plan, loaded, org_pks, codes)
    _warn_about_orgs_left_with_manual_people(plan)
    plan.finish()
    return plan
