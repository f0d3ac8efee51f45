"""Reading one DTKEY batch of the interface tables and checking it row by row.

Nothing here writes. `batch_load` returns the cleaned rows with the parent of every org worked
out, and every problem found; a batch with any fatal problem is never applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.utils import timezone

from orgsync.models import InterfaceBatch, InterfaceOrg, InterfaceUser, Org, User

# Ids are compared the way MariaDB's utf8mb4_unicode_ci compares them only if they are plain
# ASCII: that collation also ignores letter case, accents and trailing spaces. So ids are kept
# to this alphabet and matched case-insensitively (docs/hr-interface.md, "Ids and letter case").
ID_RE = re.compile(r"[A-Za-z0-9._@-]+")
DTKEY_RE = re.compile(r"\d{14}")
ID_ALPHABET = "letters A-Z, digits and . _ @ -"
# parent_key of an org whose parent could not be worked out (no id can contain "!").
_UNRESOLVED = "!"


DTKEY_FORMAT = "%Y%m%d%H%M%S"
# How far ahead of the server's clock a DTKEY may be (clock skew between HR and us). A key far
# in the future would make every real batch look older than it, so it is refused.
DTKEY_MAX_AHEAD = timedelta(days=1)


def dtkey_problem(dtkey: str) -> str | None:
    """Why a DTKEY cannot be a batch key (not a real timestamp, or too far in the future)."""
    try:
        if not DTKEY_RE.fullmatch(dtkey):
            raise ValueError(dtkey)
        # HR writes the key in the server's local time (TIME_ZONE).
        moment = datetime.strptime(dtkey, DTKEY_FORMAT).replace(
            tzinfo=timezone.get_current_timezone()
        )
    except ValueError:
        return "DTKEY must be 14 digits, YYYYMMDDhhmmss, and a real date and time."
    if moment > timezone.now() + DTKEY_MAX_AHEAD:
        return (
            f"DTKEY {dtkey} is more than a day in the future; it would make every later batch "
            "look older than it."
        )
    return None


def id_key(value: str) -> str:
    """The comparison key of a user id or org code: ids differing only in case are one id."""
    return value.lower()


def _max(model: type[models.Model], name: str) -> int:
    return int(model._meta.get_field(name).max_length)  # type: ignore[union-attr, arg-type]


ORG_CD_MAX = _max(Org, "org_cd")
ORG_NAME_MAX = _max(Org, "name")
SEQ_MAX = _max(Org, "seq")
LEVEL_MAX = 32767
USER_ID_MAX = _max(User, "user_id")
USER_LIMITS = {
    "name": _max(User, "name"),
    "job": _max(User, "job"),
    "tel_no": _max(User, "tel_no"),
    "absence_code": _max(User, "absence_code"),
    "absence_text": _max(User, "absence_text"),
}
# Interface column -> User field, for the columns copied onto the person.
USER_COLUMNS = {
    "user_nm": "name",
    "job": "job",
    "tel_no": "tel_no",
    "ab_cd": "absence_code",
    "ab_nm": "absence_text",
}


@dataclass(frozen=True)
class Problem:
    """Why a row (or the batch) cannot be applied; fatal=False is a warning the run carries."""

    table: str  # "batch", "org" or "user"
    row: int | None  # the interface row's id
    key: str  # the DTKEY, org code or user id concerned
    message: str
    fatal: bool = True
    # A bad row left out of a batch applied without its bad rows: reported, not refusing.
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "row": self.row,
            "key": self.key,
            "message": self.message,
            "fatal": self.fatal,
            "skipped": self.skipped,
        }


@dataclass
class OrgRow:
    row: int
    org_cd: str
    name: str
    seq: str
    level: int
    parent_cd: str  # as HR gave it; may be empty
    parent_key: str | None = None  # id_key of the parent worked out, None for a root


@dataclass
class UserRow:
    row: int
    user_id: str
    org_cd: str
    fields: dict[str, str]  # name, job, tel_no, absence_code, absence_text


@dataclass
class LoadedBatch:
    dtkey: str
    orgs: list[OrgRow] = field(default_factory=list)
    users: list[UserRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Applying without the bad rows (skip_bad_rows): the rows left out, and what the plan must
    # not take for gone. A left-out row is in the batch: its org or person is kept as it is, not
    # deactivated as missing. When a left-out row has no usable id, nobody can tell whom it
    # meant, so nobody (or no org) is deactivated by this batch at all.
    left_out_orgs: list[OrgRow] = field(default_factory=list)
    left_out_users: list[UserRow] = field(default_factory=list)
    hold_org_deactivations: bool = False
    hold_user_deactivations: bool = False

    @property
    def fatal(self) -> bool:
        return any(p.fatal and not p.skipped for p in self.problems)

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.skipped]

    @property
    def kept_org_keys(self) -> set[str]:
        return {id_key(o.org_cd) for o in self.left_out_orgs if o.org_cd}

    @property
    def kept_user_keys(self) -> set[str]:
        return {id_key(u.user_id) for u in self.left_out_users if u.user_id}


def _control_chars(text: str) -> bool:
    return any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _check_id(
    problems: list[Problem], table: str, row: int, column: str, value: str, max_len: int
) -> bool:
    if not value:
        problems.append(Problem(table, row, value, f"{column} is empty."))
        return False
    if len(value) > max_len:
        problems.append(
            Problem(
                table,
                row,
                value[:40],
                f"{column} is {len(value)} characters; at most {max_len} fit.",
            )
        )
        return False
    if not ID_RE.fullmatch(value):
        problems.append(Problem(table, row, value, f"{column} may contain only {ID_ALPHABET}."))
        return False
    return True


def _check_text(
    problems: list[Problem],
    table: str,
    row: int,
    key: str,
    column: str,
    value: str,
    max_len: int,
    *,
    required: bool = False,
) -> None:
    if required and not value:
        problems.append(Problem(table, row, key, f"{column} is empty."))
    elif len(value) > max_len:
        problems.append(
            Problem(table, row, key, f"{column} is {len(value)} characters; at most {max_len} fit.")
        )
    elif _control_chars(value):
        problems.append(Problem(table, row, key, f"{column} contains a control character."))


def _duplicates(
    problems: list[Problem], table: str, column: str, rows: list[tuple[int, str]]
) -> set[str]:
    """Report every row whose value (compared case-insensitively) appears more than once."""
    seen: dict[str, list[tuple[int, str]]] = {}
    for row, value in rows:
        seen.setdefault(id_key(value), []).append((row, value))
    dup_keys = set()
    for key, group in seen.items():
        if len(group) < 2:
            continue
        dup_keys.add(key)
        rows_text = ", ".join(str(r) for r, _v in group)
        spellings = sorted({v for _r, v in group})
        case_note = (
            f" (as {' and '.join(spellings)}: letter case does not make ids different)"
            if len(spellings) > 1
            else ""
        )
        for row, value in group:
            problems.append(
                Problem(
                    table,
                    row,
                    value,
                    f"{column} {value} appears {len(group)} times in this batch "
                    f"(rows {rows_text}){case_note}.",
                )
            )
    return dup_keys


def _load_orgs(dtkey: str, problems: list[Problem]) -> tuple[list[OrgRow], bool]:
    """The batch's org rows, and whether their tree columns (codes, SEQ, LVL) are all usable."""
    rows: list[OrgRow] = []
    tree_ok = True
    for rid, org_cd, org_nm, seq, lvl, parent_cd in (
        InterfaceOrg.objects.filter(dtkey=dtkey)
        .order_by("id")
        .values_list("id", "org_cd", "org_nm", "seq", "lvl", "parent_cd")
    ):
        row = OrgRow(rid, _text(org_cd), _text(org_nm), _text(seq), lvl, _text(parent_cd))
        code = row.org_cd
        before = len(problems)
        _check_id(problems, "org", rid, "ORG_CD", code, ORG_CD_MAX)
        _check_text(problems, "org", rid, code, "SEQ", row.seq, SEQ_MAX, required=True)
        if not 0 <= lvl <= LEVEL_MAX:
            problems.append(
                Problem("org", rid, code, f"LVL {lvl} is not between 0 and {LEVEL_MAX}.")
            )
        if row.parent_cd:
            _check_id(problems, "org", rid, "PARENT_CD", row.parent_cd, ORG_CD_MAX)
        if len(problems) != before:
            tree_ok = False
        _check_text(problems, "org", rid, code, "ORG_NM", row.name, ORG_NAME_MAX, required=True)
        rows.append(row)
    return rows, tree_ok


def _build_tree(orgs: list[OrgRow], problems: list[Problem]) -> None:
    """Give every org its parent: PARENT_CD when given, else the nearest org one level up
    before it in SEQ order. Reports unknown parents, skipped levels and cycles."""
    by_key = {id_key(o.org_cd): o for o in orgs}
    ordered = sorted(orgs, key=lambda o: (o.seq, o.row))
    root_level = min(o.level for o in orgs)
    last_at_level: dict[int, OrgRow] = {}
    for org in ordered:
        if org.parent_cd:
            parent = by_key.get(id_key(org.parent_cd))
            if parent is None:
                problems.append(
                    Problem(
                        "org",
                        org.row,
                        org.org_cd,
                        f"PARENT_CD {org.parent_cd} is not an org of this batch.",
                    )
                )
                org.parent_key = _UNRESOLVED
            else:
                org.parent_key = id_key(parent.org_cd)
        elif org.level == root_level:
            org.parent_key = None
        else:
            parent = last_at_level.get(org.level - 1)
            if parent is None:
                problems.append(
                    Problem(
                        "org",
                        org.row,
                        org.org_cd,
                        f"LVL {org.level} but no org of LVL {org.level - 1} comes before it in "
                        "SEQ order, so it has no parent (a level is skipped).",
                    )
                )
                org.parent_key = _UNRESOLVED
            else:
                org.parent_key = id_key(parent.org_cd)
        last_at_level[org.level] = org
        for deeper in [lvl for lvl in last_at_level if lvl > org.level]:
            del last_at_level[deeper]

    # Cycles are only possible through PARENT_CD; report each cycle once, on every member.
    in_cycle: set[str] = set()
    for org in orgs:
        path: list[str] = []
        key: str | None = id_key(org.org_cd)
        while key is not None and key != _UNRESOLVED and key not in path and key not in in_cycle:
            path.append(key)
            key = by_key[key].parent_key if key in by_key else None
        if key is not None and key in path:
            cycle = path[path.index(key) :]
            names = " -> ".join(by_key[k].org_cd for k in [*cycle, cycle[0]])
            for member in cycle:
                in_cycle.add(member)
                problems.append(
                    Problem(
                        "org",
                        by_key[member].row,
                        by_key[member].org_cd,
                        f"PARENT_CD makes a cycle: {names}.",
                    )
                )
    for org in orgs:
        key = id_key(org.org_cd)
        if key in in_cycle or org.parent_key in (None, _UNRESOLVED):
            continue
        parent = by_key[org.parent_key]  # type: ignore[index]
        if org.parent_cd and org.level != parent.level + 1:
            problems.append(
                Problem(
                    "org",
                    org.row,
                    org.org_cd,
                    f"LVL {org.level} does not fit under PARENT_CD {parent.org_cd}, whose LVL is "
                    f"{parent.level} (expected {parent.level + 1}).",
                )
            )


def _load_users(dtkey: str, org_keys: set[str], problems: list[Problem]) -> list[UserRow]:
    rows: list[UserRow] = []
    columns = list(USER_COLUMNS)
    for values in (
        InterfaceUser.objects.filter(dtkey=dtkey)
        .order_by("id")
        .values_list("id", "user_id", "org_cd", *columns)
    ):
        rid, user_id, org_cd = values[0], _text(values[1]), _text(values[2])
        fields = {USER_COLUMNS[c]: _text(v) for c, v in zip(columns, values[3:], strict=True)}
        _check_id(problems, "user", rid, "USER_ID", user_id, USER_ID_MAX)
        for column, name in USER_COLUMNS.items():
            _check_text(
                problems,
                "user",
                rid,
                user_id,
                column.upper(),
                fields[name],
                USER_LIMITS[name],
                required=name == "name",
            )
        if not org_cd:
            problems.append(Problem("user", rid, user_id, "ORG_CD is empty."))
        elif id_key(org_cd) not in org_keys:
            problems.append(
                Problem("user", rid, user_id, f"ORG_CD {org_cd} is not an org of this batch.")
            )
        rows.append(UserRow(rid, user_id, org_cd, fields))
    return rows


def _usable_id(value: str, max_len: int) -> bool:
    return len(value) <= max_len and bool(ID_RE.fullmatch(value))


def batch_leave_out_bad_rows(loaded: LoadedBatch) -> None:
    """Leave out of the batch every org or person row with a problem, and what hangs on it: the
    orgs under a left-out org and the people in one (each reported on its own row, so nobody is
    moved or orphaned without a word). Their problems become `skipped`; problems of the batch as
    a whole still refuse it. Safe to call again after more rows were found bad."""
    bad = {
        (p.table, p.row)
        for p in loaded.problems
        if p.fatal and p.row is not None and p.table in ("org", "user")
    }
    gone = {id_key(o.org_cd): o for o in loaded.left_out_orgs}
    for org in [o for o in loaded.orgs if ("org", o.row) in bad]:
        loaded.left_out_orgs.append(org)
        gone.setdefault(id_key(org.org_cd), org)
    loaded.orgs = [o for o in loaded.orgs if ("org", o.row) not in bad]
    changed = True
    while changed:
        changed = False
        for org in list(loaded.orgs):
            parent = gone.get(org.parent_key) if org.parent_key is not None else None
            if parent is None:
                continue
            loaded.problems.append(
                Problem(
                    "org",
                    org.row,
                    org.org_cd,
                    f"Its parent org {parent.org_cd or '(empty ORG_CD)'} (row {parent.row}) is "
                    "not applied, so this org is not applied either.",
                )
            )
            loaded.orgs.remove(org)
            loaded.left_out_orgs.append(org)
            gone.setdefault(id_key(org.org_cd), org)
            changed = True
    kept_users = []
    for person in loaded.users:
        org = gone.get(id_key(person.org_cd))
        if ("user", person.row) in bad:
            loaded.left_out_users.append(person)
        elif org is not None:
            loaded.problems.append(
                Problem(
                    "user",
                    person.row,
                    person.user_id,
                    f"ORG_CD {person.org_cd} (org row {org.row}) is not applied, so this person "
                    "is kept as they are (not moved, updated or deactivated).",
                )
            )
            loaded.left_out_users.append(person)
        else:
            kept_users.append(person)
    loaded.users = kept_users
    loaded.problems[:] = [
        replace(p, skipped=True)
        if p.fatal and p.row is not None and p.table in ("org", "user")
        else p
        for p in loaded.problems
    ]
    loaded.hold_org_deactivations = any(
        not _usable_id(o.org_cd, ORG_CD_MAX) for o in loaded.left_out_orgs
    )
    loaded.hold_user_deactivations = any(
        not _usable_id(u.user_id, USER_ID_MAX) for u in loaded.left_out_users
    )
    if not loaded.orgs or not loaded.users:
        loaded.problems.append(
            Problem(
                "batch",
                None,
                loaded.dtkey,
                "No org row or no person row of the batch is good; nothing can be applied.",
            )
        )


def batch_load(*, batch: InterfaceBatch, skip_bad_rows: bool = False) -> LoadedBatch:
    """Read a batch's rows, clean them (surrounding spaces dropped) and check every rule.

    With skip_bad_rows the rows with problems (and the rows that hang on them) are left out and
    reported as skipped (`batch_leave_out_bad_rows`); only problems of the batch as a whole
    refuse it."""
    loaded = LoadedBatch(dtkey=batch.dtkey)
    problems = loaded.problems
    bad_key = dtkey_problem(batch.dtkey)
    if bad_key:
        problems.append(Problem("batch", batch.pk, batch.dtkey, bad_key))
        return loaded
    # The counts are compared with the rows actually read (not a separate COUNT, which rows
    # written in between could make differ from what is checked and applied).
    org_problems: list[Problem] = []
    user_problems: list[Problem] = []
    orgs, tree_ok = _load_orgs(batch.dtkey, org_problems)
    org_keys = {id_key(o.org_cd) for o in orgs}
    users = _load_users(batch.dtkey, org_keys, user_problems)
    org_rows, user_rows = len(orgs), len(users)
    if (org_rows, user_rows) != (batch.org_count, batch.user_count):
        problems.append(
            Problem(
                "batch",
                batch.pk,
                batch.dtkey,
                f"The control row announces {batch.org_count} org rows and {batch.user_count} "
                f"user rows, but the interface tables hold {org_rows} and {user_rows}: the "
                "batch is incomplete or was written twice.",
            )
        )
        return loaded
    if not org_rows or not user_rows:
        problems.append(
            Problem(
                "batch",
                batch.pk,
                batch.dtkey,
                "The batch has no orgs or no people; applying it would deactivate everyone.",
            )
        )
        return loaded

    problems.extend(org_problems)
    codes = [(o.row, o.org_cd) for o in orgs if ID_RE.fullmatch(o.org_cd)]
    if _duplicates(problems, "org", "ORG_CD", codes):
        tree_ok = False
    dup_seqs = _duplicates(problems, "org", "SEQ", [(o.row, o.seq) for o in orgs if o.seq])
    if dup_seqs:
        tree_ok = False
    # The tree is worked out only from usable codes, SEQ and LVL: with a broken row in the way
    # its messages (skipped levels, unknown parents) would be guesses, not findings. Leaving bad
    # rows out needs every org's place (SEQ, LVL) to be sound, so that the parents worked out
    # around a bad row are the ones HR meant; a bad code alone does not move anybody's parent.
    unplaced = [
        o
        for o in orgs
        if not o.seq
        or len(o.seq) > SEQ_MAX
        or _control_chars(o.seq)
        or not 0 <= o.level <= LEVEL_MAX
        or id_key(o.seq) in dup_seqs
    ]
    if tree_ok or (skip_bad_rows and not unplaced):
        _build_tree(orgs, problems)
    problems.extend(user_problems)
    ids = [(u.row, u.user_id) for u in users if ID_RE.fullmatch(u.user_id)]
    _duplicates(problems, "user", "USER_ID", ids)
    loaded.orgs = orgs
    loaded.users = users
    if skip_bad_rows:
        if unplaced:
            rows = ", ".join(str(o.row) for o in unplaced[:10])
            problems.append(
                Problem(
                    "batch",
                    batch.pk,
                    batch.dtkey,
                    f"Org rows {rows} have no usable SEQ or LVL, so where the orgs after them "
                    "belong cannot be worked out: the batch cannot be applied even without its "
                    "bad rows.",
                )
            )
            return loaded
        batch_leave_out_bad_rows(loaded)
    return loaded
