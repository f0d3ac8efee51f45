"""A realistic HR feed for tests, demos and the benchmark: a company of N people in M orgs over
a few levels, with Korean names, written into the interface tables the way HR would (rows
first, then the control row set READY); and the next day's batch, with moves, renames, an org
moved under another parent, a closed org, joiners and leavers.

The orgs carry no PARENT_CD: like the seed's HR export, the tree is given by SEQ order and LVL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from orgsync.models import InterfaceBatch, InterfaceOrg, InterfaceUser

SURNAMES = "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민"
GIVEN = "민서지현준우하윤도연수예진성호영은재원태희승채경유나정혜아시주다온건린솔율찬빈"
ORG_WORDS = [
    "경영", "재무", "인사", "전략", "영업", "마케팅", "기술", "연구", "품질", "생산",
    "구매", "물류", "고객", "디자인", "플랫폼", "데이터", "보안", "법무", "홍보", "해외",
]  # fmt: skip
LEVEL_SUFFIX = ["", "본부", "실", "팀", "파트", "셀", "반"]
JOBS = ["사원", "주임", "대리", "과장", "차장", "부장", "팀장", "수석", "책임", "선임"]
DUTIES = ["기획", "개발", "운영", "영업", "회계", "채용", "교육", "분석", "지원", "설계"]
ABSENCES = ["dayoff", "biztrip", "edu", "sick"]
BULK = 2000


@dataclass
class FeedOrg:
    org_cd: str
    name: str
    level: int
    parent: FeedOrg | None = None
    children: list[FeedOrg] = field(default_factory=list)


@dataclass
class FeedUser:
    user_id: str
    name: str
    org_cd: str
    job: str
    tel_no: str
    ab_cd: str = ""
    ab_nm: str = ""


def _person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)


def _phone(rng: random.Random) -> str:
    return f"010-{rng.randint(2000, 9999)}-{rng.randint(0, 9999):04d}"


def _absence(rng: random.Random, day: datetime) -> tuple[str, str]:
    if rng.random() >= 0.05:
        return "", ""
    start = day + timedelta(days=rng.randint(0, 10))
    end = start + timedelta(days=rng.randint(0, 4))
    return rng.choice(ABSENCES), f"{start:%Y%m%d}~{end:%Y%m%d}"


def _level_sizes(orgs: int, levels: int) -> list[int]:
    """How many orgs each level gets: one root, then growing about threefold per level."""
    if levels < 2 or orgs < levels:
        raise ValueError("need at least 2 levels and one org per level")
    weights = [3**lvl for lvl in range(1, levels)]
    rest = orgs - 1
    sizes = [max(1, rest * w // sum(weights)) for w in weights]
    sizes[-1] += rest - sum(sizes)
    return [1, *sizes]


def _make_tree(rng: random.Random, orgs: int, levels: int, company: str) -> list[FeedOrg]:
    root = FeedOrg("C0000", company, 0)
    by_level = [[root]]
    number = 0
    for level, size in enumerate(_level_sizes(orgs, levels)[1:], start=1):
        parents = by_level[-1]
        row = []
        for i in range(size):
            number += 1
            # Every org of the level above gets a child first, then the rest spread at random.
            parent = parents[i] if i < len(parents) else rng.choice(parents)
            word = ORG_WORDS[number % len(ORG_WORDS)]
            org = FeedOrg(f"D{number:05d}", f"{word}{number}{LEVEL_SUFFIX[level % 7]}", level)
            org.parent = parent
            parent.children.append(org)
            row.append(org)
        by_level.append(row)
    return _preorder(root)


def _preorder(root: FeedOrg) -> list[FeedOrg]:
    ordered: list[FeedOrg] = []
    stack = [root]
    while stack:
        org = stack.pop()
        ordered.append(org)
        stack.extend(reversed(org.children))
    return ordered


def _next_dtkey(dtkey: str | None) -> str:
    newest = InterfaceBatch.objects.aggregate(m=Max("dtkey"))["m"] or ""
    if dtkey:
        return dtkey
    moment = timezone.localtime()
    candidate = f"{moment:%Y%m%d%H%M%S}"
    while candidate <= newest:
        moment += timedelta(seconds=1)
        candidate = f"{moment:%Y%m%d%H%M%S}"
    return candidate


@transaction.atomic
def _write(dtkey: str, orgs: list[FeedOrg], users: list[FeedUser], status: str) -> InterfaceBatch:
    """Write the rows, then the control row: what HR's export does (docs/hr-interface.md)."""
    batch = InterfaceBatch.objects.create(
        dtkey=dtkey,
        org_count=len(orgs),
        user_count=len(users),
        status=InterfaceBatch.Status.WRITING,
        note="test feed",
    )
    InterfaceOrg.objects.bulk_create(
        [
            InterfaceOrg(
                dtkey=dtkey, org_cd=o.org_cd, org_nm=o.name, seq=f"{(i + 1) * 10:08d}", lvl=o.level
            )
            for i, o in enumerate(orgs)
        ],
        batch_size=BULK,
    )
    top = {o.org_cd: o for o in orgs}

    def root_of(code: str) -> FeedOrg:
        org = top[code]
        while org.parent is not None and org.parent.parent is not None:
            org = org.parent
        return org

    InterfaceUser.objects.bulk_create(
        [
            InterfaceUser(
                dtkey=dtkey,
                user_id=u.user_id,
                user_nm=u.name,
                org_cd=u.org_cd,
                org_nm=top[u.org_cd].name,
                top_org_cd=root_of(u.org_cd).org_cd,
                top_org_nm=root_of(u.org_cd).name,
                job=u.job,
                tel_no=u.tel_no,
                ab_cd=u.ab_cd,
                ab_nm=u.ab_nm,
            )
            for u in users
        ],
        batch_size=BULK,
    )
    batch.status = status
    batch.save(update_fields=["status"])
    return batch


def feed_write_first(
    *,
    people: int,
    orgs: int,
    levels: int = 5,
    seed: int = 1,
    dtkey: str | None = None,
    status: str = InterfaceBatch.Status.READY,
    company: str = "한빛그룹",
) -> InterfaceBatch:
    """Write a whole company as one batch: `orgs` orgs over `levels` levels, `people` people."""
    rng = random.Random(seed)
    tree = _make_tree(rng, orgs, levels, company)
    # People sit mostly in the deeper orgs, as in a real company.
    weights = [1 + o.level * o.level for o in tree]
    homes = rng.choices(tree, weights, k=people)
    today = timezone.localtime().replace(tzinfo=None)
    users = []
    for n, org in enumerate(homes, start=1):
        ab_cd, ab_nm = _absence(rng, today)
        users.append(
            FeedUser(
                f"E{n:06d}",
                _person_name(rng),
                org.org_cd,
                f"{rng.choice(JOBS)} / {rng.choice(DUTIES)}",
                _phone(rng),
                ab_cd,
                ab_nm,
            )
        )
    return _write(_next_dtkey(dtkey), tree, users, status)


def _read_batch(dtkey: str) -> tuple[list[FeedOrg], list[FeedUser]]:
    """A batch back from the interface tables, its tree rebuilt from SEQ order and LVL."""
    rows = InterfaceOrg.objects.filter(dtkey=dtkey).order_by("seq", "id")
    orgs: list[FeedOrg] = []
    last_at: dict[int, FeedOrg] = {}
    for row in rows:
        org = FeedOrg(row.org_cd, row.org_nm, row.lvl, parent=last_at.get(row.lvl - 1))
        if org.parent is not None:
            org.parent.children.append(org)
        last_at[row.lvl] = org
        orgs.append(org)
    users = [
        FeedUser(u.user_id, u.user_nm, u.org_cd, u.job, u.tel_no, u.ab_cd, u.ab_nm)
        for u in InterfaceUser.objects.filter(dtkey=dtkey).order_by("id")
    ]
    return orgs, users


def feed_write_next(
    *,
    seed: int = 2,
    dtkey: str | None = None,
    move_percent: float = 2,
    update_percent: float = 2,
    leave_percent: float = 1,
    join_percent: float = 1,
    rename_percent: float = 1,
    status: str = InterfaceBatch.Status.READY,
) -> InterfaceBatch:
    """Write the next day's batch, derived from the newest one in the interface tables."""
    previous = InterfaceBatch.objects.order_by("-dtkey").first()
    if previous is None:
        raise ValueError("There is no batch to follow; write a first one.")
    rng = random.Random(seed)
    orgs, users = _read_batch(previous.dtkey)
    roots = [o for o in orgs if o.parent is None]
    root = roots[0]
    deep = [o for o in orgs if o.parent is not None and o.parent.parent is not None]
    for org in rng.sample(orgs[1:], max(1, int(len(orgs) * rename_percent / 100))):
        org.name = f"{org.name[:40]}(신)"
    # One org moves under another parent of the same level, with its whole branch.
    mover = rng.choice(deep) if deep else None
    if mover is not None and mover.parent is not None:
        targets = [o for o in orgs if o.level == mover.level - 1 and o is not mover.parent]
        if targets:
            mover.parent.children.remove(mover)
            mover.parent = rng.choice(targets)
            mover.parent.children.append(mover)
    # One leaf org closes; its people move to its parent.
    leaves = [o for o in deep if not o.children]
    closed: FeedOrg | None = rng.choice(leaves) if leaves else None
    if closed is not None and closed.parent is not None:
        closed.parent.children.remove(closed)
        for user in users:
            if user.org_cd == closed.org_cd:
                user.org_cd = closed.parent.org_cd
    tree = _preorder(root)
    for extra in roots[1:]:
        tree.extend(_preorder(extra))
    codes = [o.org_cd for o in tree]
    for user in rng.sample(users, int(len(users) * move_percent / 100)):
        user.org_cd = rng.choice(codes)
    today = timezone.localtime().replace(tzinfo=None)
    for user in rng.sample(users, int(len(users) * update_percent / 100)):
        user.job = f"{rng.choice(JOBS)} / {rng.choice(DUTIES)}"
        user.tel_no = _phone(rng)
        user.ab_cd, user.ab_nm = _absence(rng, today)
    highest = max((int(u.user_id[1:]) for u in users if u.user_id[1:].isdigit()), default=0)
    leavers = set(rng.sample(range(len(users)), int(len(users) * leave_percent / 100)))
    users = [u for i, u in enumerate(users) if i not in leavers]
    for n in range(highest + 1, highest + 1 + int(len(users) * join_percent / 100)):
        users.append(
            FeedUser(f"E{n:06d}", _person_name(rng), rng.choice(codes), "신입 / 교육", _phone(rng))
        )
    return _write(_next_dtkey(dtkey), tree, users, status)
