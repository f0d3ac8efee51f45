"""Writing HR batches into the interface tables the way HR's export does, for the sync tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orgsync.models import InterfaceBatch, InterfaceOrg, InterfaceUser

# org_cd, name, SEQ, LVL: the seed's form, parents worked out from SEQ order and LVL.
COMPANY = [
    ("HQ", "한빛상사", "0001", 1),
    ("DEV", "개발본부", "0100", 2),
    ("PLT", "플랫폼팀", "0110", 3),
    ("APP", "앱개발팀", "0120", 3),
    ("SAL", "영업본부", "0200", 2),
    ("SAL1", "국내영업팀", "0210", 3),
]
# user_id, name, org_cd, job, tel_no
PEOPLE = [
    ("kim.minjun", "김민준", "HQ", "대표이사", "02-555-0100"),
    ("lee.seoyeon", "이서연", "PLT", "플랫폼 팀장", "010-1234-5678"),
    ("park.jiho", "박지호", "PLT", "백엔드 개발", "010-2222-3333"),
    ("choi.yuna", "최유나", "APP", "앱 개발", "010-4444-5555"),
    ("jung.hyunwoo", "정현우", "SAL1", "영업 대표", "010-6666-7777"),
]


def org_row(dtkey: str, row: Sequence[Any]) -> InterfaceOrg:
    code, name, seq, lvl, *rest = row
    return InterfaceOrg(
        dtkey=dtkey, org_cd=code, org_nm=name, seq=seq, lvl=lvl, parent_cd=rest[0] if rest else ""
    )


def user_row(dtkey: str, row: Sequence[Any] | dict[str, Any]) -> InterfaceUser:
    if isinstance(row, dict):
        return InterfaceUser(dtkey=dtkey, **row)
    user_id, name, org_cd, *rest = row
    extra = dict(zip(("job", "tel_no", "ab_cd", "ab_nm"), rest, strict=False))
    return InterfaceUser(dtkey=dtkey, user_id=user_id, user_nm=name, org_cd=org_cd, **extra)


def write_batch(
    dtkey: str,
    orgs: Sequence[Sequence[Any]] = COMPANY,
    users: Sequence[Sequence[Any] | dict[str, Any]] = PEOPLE,
    *,
    status: str = InterfaceBatch.Status.READY,
    org_count: int | None = None,
    user_count: int | None = None,
) -> InterfaceBatch:
    """Rows first, then the control row with the counts: docs/hr-interface.md's contract."""
    org_rows = InterfaceOrg.objects.bulk_create([org_row(dtkey, o) for o in orgs])
    user_rows = InterfaceUser.objects.bulk_create([user_row(dtkey, u) for u in users])
    return InterfaceBatch.objects.create(
        dtkey=dtkey,
        org_count=len(org_rows) if org_count is None else org_count,
        user_count=len(user_rows) if user_count is None else user_count,
        status=status,
    )


def people_except(*user_ids: str) -> list[tuple[str, ...]]:
    return [p for p in PEOPLE if p[0] not in user_ids]


def replace_person(user_id: str, **changes: str) -> list[tuple[str, ...]]:
    """PEOPLE with one person's columns changed (name, org_cd, job, tel_no)."""
    index = {"name": 1, "org_cd": 2, "job": 3, "tel_no": 4}
    rows = []
    for person in PEOPLE:
        row = list(person)
        if person[0] == user_id:
            for column, value in changes.items():
                row[index[column]] = value
        rows.append(tuple(row))
    return rows
