"""Data at scale: millions of messages in a database of their own, then the read paths timed.

`generate` fills the database (default `messenger_scale`) with a year of history shaped like a
real site: one person (`scale00000`) in 1,000 rooms (1:1 and groups), one group of 300 with a
tenth of all messages, the rest spread over many rooms with skewed activity, realistic read
watermarks, files, cancelled lines and deleted-for-me receipts. Messages are written in time
order across rooms (ids interleave as on a live site), as tab-separated files loaded with
LOAD DATA LOCAL INFILE while the next file is generated; the message table's secondary indexes
are dropped during the load and rebuilt once afterwards (a sorted build). A stamp table
records what was generated, so a later run with the same size reuses it.

`measure` times the read paths as the REST views run them: the selectors in this process
(p50/p99 over repeated calls, SQL queries per call, EXPLAIN of each query) and the REST API
of a uvicorn server process in the production configuration.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import env

SCALE_DB = os.environ.get("BENCH_SCALE_DATABASE", "messenger_scale")
# Bump when the shape of the generated data changes: a stamp of another version is not reused.
GENERATOR_VERSION = 1
STAMP_TABLE = "bench_datascale_stamp"
MAIN_USER = "scale00000"
MAIN_ROOMS = 1000
MAIN_DIRECT = 650
BIG_ROOM_MEMBERS = 300
DAY = 86400.0
YEAR = 365 * DAY
CHUNK_ROWS = 500_000

# Search terms: RARE is planted in a few sentences of the pool, COMMON is an everyday word,
# ABSENT never occurs (the worst case: every row of the room is looked at).
SEARCH_RARE = "분기결산"
SEARCH_COMMON = "회의"
SEARCH_ABSENT = "zqxjv"

KOREAN = [
    "회의",
    "오늘",
    "내일",
    "확인",
    "부탁드립니다",
    "감사합니다",
    "자료",
    "보고서",
    "일정",
    "공유",
    "검토",
    "완료",
    "수정",
    "요청",
    "점심",
    "회의실",
    "고객",
    "견적",
    "계약",
    "출장",
    "휴가",
    "결재",
    "문서",
    "링크",
    "첨부",
    "파일",
    "메일",
    "전화",
    "잠시만요",
    "네",
    "알겠습니다",
    "좋아요",
    "수고하셨습니다",
    "지금",
    "오후",
    "오전",
    "다음주",
    "이번주",
    "배포",
    "서버",
    "장애",
    "테스트",
    "개발",
    "디자인",
    "기획",
    "마감",
    "예산",
    "승인",
    "담당자",
    "팀장님",
    "대리님",
    "과장님",
    "부장님",
    "정리",
    "목록",
    "변경",
    "안내",
]
ENGLISH = [
    "ok",
    "thanks",
    "please",
    "check",
    "the",
    "report",
    "meeting",
    "deploy",
    "build",
    "release",
    "review",
    "draft",
    "update",
    "link",
    "file",
    "budget",
    "plan",
    "sprint",
    "ticket",
    "bug",
    "fix",
    "merge",
    "branch",
    "server",
    "client",
    "test",
    "docs",
    "today",
    "tomorrow",
    "soon",
    "later",
    "done",
    "yes",
    "no",
    "maybe",
    "lunch",
    "call",
    "sync",
    "notes",
    "agenda",
]


def progress(line: str) -> None:
    print(f"  {time.strftime('%H:%M:%S', time.gmtime())} UTC {line}", flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[rank]


# --- the plan ----------------------------------------------------------------------------------


@dataclass
class PlannedRoom:
    index: int
    kind: str
    members: list[int]  # user pks in join order; members[0] is the master
    messages: int
    start: float
    end: float
    left: set[int] = field(default_factory=set)
    hidden: set[int] = field(default_factory=set)
    late: dict[int, int] = field(default_factory=dict)  # user pk -> joined_seq
    pk: int = 0
    # Filled while messages are generated.
    seq: int = 0
    last: tuple | None = None
    last_sent: dict[int, int] = field(default_factory=dict)
    recent: deque = field(default_factory=lambda: deque(maxlen=64))

    def senders(self) -> list[int]:
        return [u for u in self.members if u not in self.left and u not in self.late]


def _split(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """`total` split in proportion to `weights`, each at least `minimum`, summing to total."""
    scale = sum(weights)
    counts = [max(minimum, int(total * w / scale)) for w in weights]
    diff = total - sum(counts)
    order = sorted(range(len(counts)), key=lambda i: -weights[i])
    i = 0
    while diff != 0 and order:
        j = order[i % len(order)]
        if diff > 0:
            counts[j] += 1
            diff -= 1
        elif counts[j] > minimum:
            counts[j] -= 1
            diff += 1
        i += 1
    return counts


def plan_rooms(
    rng: random.Random, messages: int, user_pks: list[int], now: float
) -> list[PlannedRoom]:
    """Every room with its members, message count and active period."""
    me, others = user_pks[0], user_pks[1:]
    big = messages // 10
    mine_total = messages // 5
    other_rooms = max(50, messages // 400)
    other_total = messages - big - mine_total
    rooms: list[PlannedRoom] = []

    def span_end() -> tuple[float, float]:
        # Activity is skewed towards now: most rooms wrote something in the last weeks.
        end = now - min(rng.expovariate(1 / (12 * DAY)), YEAR - DAY)
        start = end - rng.uniform(0.05, 1.0) * (end - (now - YEAR))
        return start, end

    big_members = [me, *rng.sample(others, BIG_ROOM_MEMBERS - 1)]
    rooms.append(PlannedRoom(0, "group", big_members, big, now - YEAR, now - 60))

    peers = rng.sample(others, MAIN_DIRECT)
    mine_weights = [rng.paretovariate(1.2) for _ in range(MAIN_ROOMS - 1)]
    mine_counts = _split(mine_total, mine_weights)
    for n, count in enumerate(mine_counts):
        start, end = span_end()
        if n < MAIN_DIRECT:
            members = [me, peers[n]] if rng.random() < 0.5 else [peers[n], me]
            rooms.append(PlannedRoom(len(rooms), "direct", members, count, start, end))
        else:
            size = rng.randint(3, 25) if rng.random() < 0.93 else rng.randint(26, 200)
            members = [me, *rng.sample(others, size - 1)]
            rng.shuffle(members)
            rooms.append(PlannedRoom(len(rooms), "group", members, count, start, end))

    other_weights = [rng.paretovariate(1.2) for _ in range(other_rooms)]
    other_counts = _split(other_total, other_weights)
    pairs: set[frozenset[int]] = set()
    for count in other_counts:
        start, end = span_end()
        if rng.random() < 0.6:
            # One 1:1 room per pair (RoomMemberSet.direct_key is unique).
            pair = rng.sample(others, 2)
            while frozenset(pair) in pairs:
                pair = rng.sample(others, 2)
            pairs.add(frozenset(pair))
            rooms.append(PlannedRoom(len(rooms), "direct", pair, count, start, end))
        else:
            size = rng.randint(3, 20) if rng.random() < 0.95 else rng.randint(21, 200)
            rooms.append(
                PlannedRoom(len(rooms), "group", rng.sample(others, size), count, start, end)
            )

    for room in rooms:
        if room.kind == "group" and room.index != 0:
            for user in room.members[1:]:
                roll = rng.random()
                if roll < 0.03 and user != me:
                    room.left.add(user)
                elif roll < 0.10 and room.messages > 4:
                    room.late[user] = rng.randint(1, room.messages // 2)
    # The main person hid a few 1:1 rooms (left until the next message).
    for room in rooms[1:11]:
        room.hidden.add(me)
    # Room pks follow creation time, like the database's own counter.
    for pk, room in enumerate(sorted(rooms, key=lambda r: r.start), start=1):
        room.pk = pk
    return rooms


# --- writing TSV and loading it ----------------------------------------------------------------


class TimeText:
    """Datetime text for LOAD DATA: one strftime per day, the time of day by arithmetic (rows
    come in time order, so the day rarely changes)."""

    def __init__(self) -> None:
        self.day = -1
        self.date = ""

    def __call__(self, t: float) -> str:
        day = int(t // DAY)
        if day != self.day:
            self.day = day
            self.date = datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")
        rest = t - day * DAY
        second = int(rest)
        micro = int((rest - second) * 1_000_000)
        return f"{self.date} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.{micro:06d}"


def fmt_time(t: float | None) -> str:
    if t is None:
        return r"\N"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def tsv_value(value: Any) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return fmt_time(value)
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def mysql_command(database: str | None = None) -> list[str]:
    cmd = ["mysql", "--local-infile=1", "-u", os.environ.get("MYSQL_USER", "root")]
    if os.environ.get("MYSQL_HOST"):
        cmd += ["-h", os.environ["MYSQL_HOST"]]
    if os.environ.get("MYSQL_PORT"):
        cmd += ["-P", os.environ["MYSQL_PORT"]]
    if os.environ.get("MYSQL_PASSWORD"):
        cmd += [f"-p{os.environ['MYSQL_PASSWORD']}"]
    return cmd + ([database] if database else [])


def mysql(sql: str, database: str | None = None) -> str:
    done = subprocess.run(
        [*mysql_command(database), "-N", "-B", "-e", sql], capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"mysql failed: {done.stderr.strip()[:2000]}")
    return done.stdout


def load_sql(table: str, columns: list[str], path: Path) -> str:
    # Bulk settings for this session only: the loaded rows are consistent by construction.
    return (
        "SET SESSION foreign_key_checks=0, unique_checks=0; "
        f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} CHARACTER SET utf8mb4 "
        f"({', '.join(columns)})"
    )


def load_file(table: str, columns: list[str], path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*mysql_command(SCALE_DB), "-e", load_sql(table, columns, path)],
        stderr=subprocess.PIPE,
    )


def wait_load(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    _out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"LOAD DATA failed: {err.decode(errors='replace')[:2000]}")


def load_rows(table: str, columns: list[str], rows: Iterator[list[Any]], workdir: Path) -> int:
    path = workdir / f"{table}.tsv"
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write("\t".join(tsv_value(v) for v in row) + "\n")
            count += 1
    wait_load(load_file(table, columns, path))
    path.unlink()
    return count


def _secondary_keys(table: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """(drop index clauses, add index clauses, drop FK clauses, add FK clauses) of a table."""
    create = mysql(f"SHOW CREATE TABLE {table}", SCALE_DB).split("\t", 1)[1]
    create = create.replace("\\n", "\n")
    drop_idx, add_idx, drop_fk, add_fk = [], [], [], []
    for line in create.splitlines():
        line = line.strip().rstrip(",")
        if line.startswith(("KEY ", "UNIQUE KEY ")):
            name = line.split("`")[1]
            drop_idx.append(f"DROP INDEX `{name}`")
            add_idx.append(f"ADD {line}")
        elif line.startswith("CONSTRAINT ") and "FOREIGN KEY" in line:
            name = line.split("`")[1]
            drop_fk.append(f"DROP FOREIGN KEY `{name}`")
            add_fk.append(f"ADD {line}")
    return drop_idx, add_idx, drop_fk, add_fk


# --- generation --------------------------------------------------------------------------------

MESSAGE_COLUMNS = [
    "id", "msg_id", "seq", "type", "body", "meta", "state", "cancelled_at", "file_expires_at",
    "thumbnail", "created_at", "updated_at", "reply_to_id", "room_id", "sender_id",
]  # fmt: skip


def sentence_pool(rng: random.Random, size: int = 20000) -> list[str]:
    pool = []
    for _ in range(size):
        words = KOREAN if rng.random() < 0.8 else ENGLISH
        n = min(int(rng.expovariate(1 / 7)) + 1, 40)
        pool.append(" ".join(rng.choice(words) for _ in range(n)))
    # The rare term is in 2 sentences of 20,000: about one message in 10,000.
    for i in (size // 3, 2 * size // 3):
        pool[i] = f"{pool[i]} {SEARCH_RARE} 자료"
    return pool


def _room_times(room: PlannedRoom, rng: random.Random) -> Iterator[tuple[float, int]]:
    step = (room.end - room.start) / room.messages
    base, index = room.start, room.index
    for k in range(room.messages):
        yield base + step * (k + rng.random()), index


def generate(messages: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Fill SCALE_DB (fresh, migrated) with `messages` messages; what was made and how fast."""
    from django.contrib.auth.hashers import make_password

    from orgsync.models import User

    started = time.monotonic()
    rng = random.Random(seed)
    now = float(int(time.time()))
    user_count = max(1500, min(5000, messages // 2000))
    # Users through the ORM: a few thousand rows, and it keeps every default right.
    unusable = make_password(None)
    User.objects.bulk_create(
        [
            User(
                user_id=f"scale{i:05d}",
                name=f"사용자{i:05d}",
                password=unusable,
                is_active=True,
                created_by="bench",
            )
            for i in range(user_count)
        ],
        batch_size=2000,
    )
    pks = list(User.objects.order_by("user_id").values_list("pk", flat=True))
    progress(f"{len(pks)} users")
    rooms = plan_rooms(rng, messages, pks, now)
    me = pks[0]
    progress(f"{len(rooms)} rooms planned; generating {messages:,} messages")

    drop_idx, add_idx, drop_fk, add_fk = _secondary_keys("talk_message")
    mysql(
        "SET SESSION foreign_key_checks=0; "
        f"ALTER TABLE talk_message {', '.join(drop_fk)}; "
        f"ALTER TABLE talk_message {', '.join(drop_idx)}",
        SCALE_DB,
    )

    pool = sentence_pool(rng)
    when = TimeText()
    npool = len(pool)
    mine = [me in r.members for r in rooms]
    receipts: list[tuple[int, int, float]] = []
    files: list[tuple[int, int, int, float, str, int, str, float | None, str]] = []
    msg_pk = 0
    loader: subprocess.Popen | None = None
    chunk_no = 0
    rows_in_chunk = 0
    path = workdir / f"messages-{chunk_no}.tsv"
    out = path.open("w", encoding="utf-8")
    random_ = rng.random
    getrandbits = rng.getrandbits
    choice = rng.choice
    gen_started = time.monotonic()
    merged = heapq.merge(*(_room_times(r, rng) for r in rooms))
    senders = [r.senders() or r.members[:1] for r in rooms]
    for t, index in merged:
        room = rooms[index]
        msg_pk += 1
        room.seq += 1
        seq = room.seq
        candidates = senders[index]
        sender = candidates[int(random_() * len(candidates))]
        roll = random_()
        state = ""
        meta = "{}"
        expires: float | None = None
        thumbnail = ""
        cancelled_at: float | None = None
        if roll < 0.97:
            kind = "talk"
            body = pool[int(random_() * npool)]
        elif roll < 0.985:
            kind = "image"
        elif roll < 0.997:
            kind = "file"
        else:
            kind = "notice"
            body = "공지: " + choice(pool)
        if kind in ("image", "file"):
            size = int(rng.lognormvariate(12, 1.5))
            expires = t + 30 * DAY
            if kind == "image":
                body = f"IMG_{msg_pk}.jpg"
                mime, width, height = "image/jpeg", 1280, 960
                thumbnail = f"files/scale/{msg_pk:012d}.thumb.jpg"
            else:
                body = f"문서_{msg_pk}.pdf"
                mime, width, height = "application/pdf", None, None
            file_meta = {
                "name": body,
                "size": size,
                "mime": mime,
                "kind": kind,
                "width": width,
                "height": height,
                "thumbnail": bool(thumbnail),
                "expires": fmt_time(expires).replace(" ", "T") + "Z",
            }
            meta = json.dumps({"file": file_meta}, ensure_ascii=False)
            if expires < now:
                state = "expired"
            files.append((msg_pk, room.pk, sender, t, body, size, mime, expires, state))
        elif random_() < 0.005:
            state = "cancelled"
            cancelled_at = t + 30
        reply_to = r"\N"
        if kind == "talk" and room.recent and random_() < 0.02:
            reply_to = str(choice(room.recent))
        room.recent.append(msg_pk)
        room.last = (t, kind, body, state, sender)
        room.last_sent[sender] = seq
        stamp = when(t)
        # A random version-4 UUID, as clients make them, without uuid.UUID's overhead.
        h = f"{getrandbits(128):032x}"
        msg_id = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"
        out.write(
            f"{msg_pk}\t{msg_id}\t{seq}\t{kind}\t{body}\t{meta}\t{state}\t"
            f"{fmt_time(cancelled_at)}\t{fmt_time(expires)}\t{thumbnail}\t{stamp}\t{stamp}\t"
            f"{reply_to}\t{room.pk}\t{sender}\n"
        )
        # Deleted for me: the main person tidies a little, others now and then.
        if mine[index] and random_() < 0.002:
            receipts.append((msg_pk, me, t + 60))
        elif random_() < 0.0005:
            receipts.append((msg_pk, choice(room.members), t + 60))
        rows_in_chunk += 1
        if rows_in_chunk == CHUNK_ROWS:
            out.close()
            wait_load(loader)
            if chunk_no:
                (workdir / f"messages-{chunk_no - 1}.tsv").unlink()
            loader = load_file("talk_message", MESSAGE_COLUMNS, path)
            chunk_no += 1
            rows_in_chunk = 0
            path = workdir / f"messages-{chunk_no}.tsv"
            out = path.open("w", encoding="utf-8")
            elapsed = time.monotonic() - gen_started
            progress(f"{msg_pk:,} messages written ({msg_pk / elapsed:,.0f} rows/s)")
    out.close()
    wait_load(loader)
    wait_load(load_file("talk_message", MESSAGE_COLUMNS, path))
    for old in workdir.glob("messages-*.tsv"):
        old.unlink()
    loaded = time.monotonic()
    progress(f"messages loaded in {loaded - gen_started:.0f} s; rebuilding indexes")
    mysql(
        "SET SESSION foreign_key_checks=0; "
        f"ALTER TABLE talk_message {', '.join(add_idx)}; "
        f"ALTER TABLE talk_message {', '.join(add_fk)}",
        SCALE_DB,
    )
    indexed = time.monotonic()
    progress(f"indexes rebuilt in {indexed - loaded:.0f} s; writing rooms and members")

    counts = {"talk_message": msg_pk}
    counts.update(_write_rooms(rng, rooms, me, now, workdir))
    counts["talk_messagereceipt"] = load_rows(
        "talk_messagereceipt",
        ["message_id", "user_id", "state", "created_at", "updated_at"],
        ([m, u, "D", t, t] for m, u, t in receipts),
        workdir,
    )
    counts["filetransfer_filelog"] = load_rows(
        "filetransfer_filelog",
        [
            "message_id",
            "room_id",
            "sender_id",
            "source_id",
            "storage_name",
            "thumbnail_name",
            "original_name",
            "size",
            "content_type",
            "sha256",
            "width",
            "height",
            "state",
            "expires_at",
            "removed_at",
            "created_at",
            "updated_at",
        ],
        (
            [
                m,
                room,
                sender,
                None,
                f"files/scale/{m:012d}",
                "",
                name,
                size,
                mime,
                hashlib.sha256(str(m).encode()).hexdigest(),
                None,
                None,
                "expired" if state == "expired" else "stored",
                expires,
                expires if state == "expired" else None,
                t,
                t,
            ]
            for m, room, sender, t, name, size, mime, expires, state in files
        ),
        workdir,
    )
    mysql(
        "ANALYZE TABLE talk_message, rooms_room, rooms_roommember, rooms_roommemberset, "
        "talk_messagereceipt, filetransfer_filelog, orgsync_user",
        SCALE_DB,
    )
    seconds = time.monotonic() - started
    big = rooms[0]
    return {
        "version": GENERATOR_VERSION,
        "messages": messages,
        "seed": seed,
        "now": now,
        "main_user": MAIN_USER,
        "big_room_id": big.pk,
        "big_room_last_seq": big.seq,
        "rooms": len(rooms),
        "users": len(pks),
        "rows": counts,
        "seconds": round(seconds, 1),
        "message_seconds": round(loaded - gen_started, 1),
        "index_seconds": round(indexed - loaded, 1),
        "messages_per_s": round(msg_pk / (indexed - gen_started)),
    }


def _write_rooms(
    rng: random.Random, rooms: list[PlannedRoom], me: int, now: float, workdir: Path
) -> dict[str, int]:
    room_rows, member_rows, set_rows = [], [], []
    for room in rooms:
        t, kind, body, state, sender = room.last  # every room has at least one message
        present = [u for u in room.members if u not in room.left]
        created = room.start - 60
        room_rows.append(
            [
                room.pk, room.kind, "", "", len(present), room.seq, t, kind,
                "" if state == "cancelled" else body[:200], state, created, t, sender,
                room.members[0],
            ]
        )  # fmt: skip
        for user in room.members:
            joined = room.late.get(user, 0)
            if user == me:
                behind = (
                    37 if room.index == 0 else (rng.randint(1, 50) if rng.random() < 0.15 else 0)
                )
                mark = room.seq - behind
            else:
                roll = rng.random()
                if roll < 0.75:
                    mark = room.seq
                elif roll < 0.93:
                    mark = room.seq - rng.randint(1, 20)
                else:
                    mark = rng.randint(joined, room.seq)
            # Sending marks the room read up to the message sent.
            mark = min(room.seq, max(mark, room.last_sent.get(user, 0), joined, 0))
            member_state, left_at = "", None
            if user in room.left:
                member_state, left_at = "L", rng.uniform(room.start, room.end)
            elif user in room.hidden:
                member_state, left_at = "2", t
            member_rows.append(
                [
                    room.pk, user, member_state, "", rng.random() < 0.05, False, joined, mark,
                    left_at, created, t,
                ]
            )  # fmt: skip
        key = ",".join(str(u) for u in sorted(present))
        direct = None
        if room.kind == "direct":
            low, high = sorted(room.members)
            direct = f"{low}:{high}"
        set_rows.append(
            [room.pk, key, hashlib.sha256(key.encode()).hexdigest(), direct, created, t]
        )
    room_rows.sort(key=lambda r: r[0])
    return {
        "rooms_room": load_rows(
            "rooms_room",
            [
                "id",
                "kind",
                "name",
                "state",
                "member_count",
                "last_seq",
                "last_message_at",
                "last_msg_type",
                "last_msg_body",
                "last_msg_state",
                "created_at",
                "updated_at",
                "last_sender_id",
                "master_id",
            ],
            iter(room_rows),
            workdir,
        ),
        "rooms_roommember": load_rows(
            "rooms_roommember",
            [
                "room_id",
                "user_id",
                "state",
                "nickname",
                "muted",
                "hide_members",
                "joined_seq",
                "last_read_seq",
                "left_at",
                "created_at",
                "updated_at",
            ],
            iter(member_rows),
            workdir,
        ),
        "rooms_roommemberset": load_rows(
            "rooms_roommemberset",
            ["room_id", "members", "members_hash", "direct_key", "created_at", "updated_at"],
            iter(set_rows),
            workdir,
        ),
    }


def read_stamp() -> dict[str, Any] | None:
    try:
        text = mysql(f"SELECT params FROM {STAMP_TABLE} WHERE id = 1", SCALE_DB).strip()  # noqa: S608 - constant names
    except RuntimeError:
        return None
    return json.loads(text.replace("\\\\", "\\")) if text else None


def write_stamp(stamp: dict[str, Any]) -> None:
    text = json.dumps(stamp).replace("\\", "\\\\").replace("'", "''")
    mysql(
        f"CREATE TABLE IF NOT EXISTS {STAMP_TABLE} (id INT PRIMARY KEY, params LONGTEXT NOT NULL); "  # noqa: S608 - our JSON, quotes doubled
        f"REPLACE INTO {STAMP_TABLE} VALUES (1, '{text}')",
        SCALE_DB,
    )


def prepare(*, messages: int, seed: int, regenerate: bool) -> dict[str, Any]:
    """The scale database holding `messages` messages: reused when its stamp says so."""
    env.BENCH_DB = SCALE_DB
    stamp = None if regenerate else read_stamp()
    if stamp and stamp.get("version") == GENERATOR_VERSION and stamp.get("messages") == messages:
        progress(f"reusing {SCALE_DB}: {messages:,} messages generated {fmt_time(stamp['now'])}")
        env.ensure_database()  # applies any new migration (an index added since)
        env.setup_django()
        return stamp
    progress(f"(re)creating {SCALE_DB}")
    mysql(f"DROP DATABASE IF EXISTS {SCALE_DB}")
    env.ensure_database()
    env.setup_django()
    with tempfile.TemporaryDirectory(prefix="datascale-") as tmp:
        stamp = generate(messages, seed, Path(tmp))
    write_stamp(stamp)
    progress(
        f"generated {messages:,} messages in {stamp['seconds']:.0f} s "
        f"({stamp['messages_per_s']:,} messages/s including the index build)"
    )
    return stamp


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Op:
    name: str
    call: Callable[[], Any]
    rest: list[str]  # the GETs a client makes for the same thing
    repeat: int


def explain(sqls: list[str]) -> list[dict[str, Any]]:
    from django.db import connection

    plans = []
    with connection.cursor() as cursor:
        for sql in sqls:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN " + sql)
            names = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                plan = dict(zip(names, row, strict=True))
                plans.append(
                    {
                        "sql": sql[:160],
                        "table": plan["table"],
                        "type": plan["type"],
                        "key": plan["key"],
                        "rows": plan["rows"],
                        "extra": plan["Extra"],
                    }
                )
    return plans


def time_calls(
    call: Callable[[], Any], repeat: int, budget: float
) -> tuple[list[float], list[float]]:
    """Wall and CPU times (ms) of `repeat` calls after a warm-up call, fewer when `budget`
    seconds run out (a search that reads a whole 1M-message room can take seconds a call).
    CPU time is this process's own work (ORM, Python), the part that a busy machine distorts
    least."""
    deadline = time.monotonic() + budget
    walls: list[float] = []
    cpus: list[float] = []
    begun, cpu = time.perf_counter(), time.process_time()
    call()  # warm up: connection, caches
    if time.monotonic() > deadline:
        # One call used the whole budget: it is the only sample rather than a warm-up.
        return [(time.perf_counter() - begun) * 1000], [(time.process_time() - cpu) * 1000]
    for _ in range(repeat):
        if walls and time.monotonic() > deadline:
            break
        begun, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append((time.perf_counter() - begun) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return walls, cpus


def summary(walls: list[float], cpus: list[float] | None = None) -> dict[str, float]:
    result = {
        "n": len(walls),
        "p50_ms": round(statistics.median(walls), 2),
        "p99_ms": round(percentile(walls, 99), 2),
        "max_ms": round(max(walls), 2),
    }
    if cpus:
        result["cpu_p50_ms"] = round(statistics.median(cpus), 2)
    return result


def build_ops(stamp: dict[str, Any], repeat: int) -> list[Op]:
    from messages import selectors as message_selectors
    from messages.models import Message
    from orgsync.models import User
    from rooms import selectors as room_selectors
    from rooms.models import RoomMember

    me = User.objects.get(user_id=stamp["main_user"])
    big = stamp["big_room_id"]
    last = stamp["big_room_last_seq"]
    rng = random.Random(7)
    reader_msg = str(Message.objects.get(room_id=big, seq=last - 20).msg_id)
    # The rooms a reconnecting client has fallen behind in: the ten with the most unread.
    behind = sorted(
        RoomMember.objects.filter(user=me, state="").values_list(
            "room_id", "last_read_seq", "room__last_seq"
        ),
        key=lambda r: r[1] - r[2],
    )[:10]

    def deep_before() -> int:
        return rng.randint(1000, max(1001, last // 2))

    def catch_up() -> None:
        room_selectors.rooms_for_user(user=me)
        for room_id, mark, _last in behind:
            message_selectors.messages_page(user=me, room_id=room_id, after_seq=mark, limit=100)

    catch_up_rest = ["/api/rooms"] + [
        f"/api/rooms/{room_id}/messages?after_seq={mark}&limit=100" for room_id, mark, _l in behind
    ]
    slow = max(1, repeat // 10)
    return [
        Op("room_list", lambda: room_selectors.rooms_for_user(user=me), ["/api/rooms"], repeat),
        Op(
            "history_newest",
            lambda: message_selectors.messages_page(user=me, room_id=big),
            [f"/api/rooms/{big}/messages"],
            repeat,
        ),
        Op(
            "history_deep",
            lambda: message_selectors.messages_page(user=me, room_id=big, before_seq=deep_before()),
            [f"/api/rooms/{big}/messages?before_seq={last // 4}"],
            repeat,
        ),
        Op(
            "catch_up_room",
            lambda: message_selectors.messages_page(
                user=me, room_id=big, after_seq=last - 200, limit=100
            ),
            [f"/api/rooms/{big}/messages?after_seq={last - 200}&limit=100"],
            repeat,
        ),
        Op("catch_up_reconnect", catch_up, catch_up_rest, max(3, repeat // 5)),
        Op(
            "unread_readers",
            lambda: message_selectors.message_readers(user=me, msg_id=reader_msg),
            [f"/api/messages/{reader_msg}/readers"],
            repeat,
        ),
        Op(
            "search_room_common",
            lambda: message_selectors.messages_search(user=me, q=SEARCH_COMMON, room_id=big),
            [f"/api/search?q={SEARCH_COMMON}&room_id={big}"],
            slow,
        ),
        Op(
            "search_room_rare",
            lambda: message_selectors.messages_search(user=me, q=SEARCH_RARE, room_id=big),
            [f"/api/search?q={SEARCH_RARE}&room_id={big}"],
            slow,
        ),
        Op(
            "search_room_absent",
            lambda: message_selectors.messages_search(user=me, q=SEARCH_ABSENT, room_id=big),
            [f"/api/search?q={SEARCH_ABSENT}&room_id={big}"],
            slow,
        ),
    ]


def measure(
    stamp: dict[str, Any], *, repeat: int, rest: bool, budget: float, only: set[str] | None
) -> list[dict[str, Any]]:
    import httpx
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework_simplejwt.tokens import AccessToken

    from orgsync.models import User

    ops = [op for op in build_ops(stamp, repeat) if not only or op.name in only]
    rows: list[dict[str, Any]] = []
    for op in ops:
        with CaptureQueriesContext(connection) as captured:
            op.call()
        sqls = [q["sql"] for q in captured.captured_queries]
        row = {
            "op": op.name,
            "queries": len(sqls),
            "selector": summary(*time_calls(op.call, op.repeat, budget)),
            "explain": explain(sqls),
        }
        rows.append(row)
        progress(
            f"{op.name}: selector p50 {row['selector']['p50_ms']} ms, "
            f"p99 {row['selector']['p99_ms']} ms, CPU p50 {row['selector']['cpu_p50_ms']} ms, "
            f"{row['queries']} queries"
        )
    if rest:
        token = str(AccessToken.for_user(User.objects.get(user_id=stamp["main_user"])))
        server = env.Server("uvicorn")
        try:
            with httpx.Client(
                base_url=server.http, headers={"Authorization": f"Bearer {token}"}, timeout=1800
            ) as client:
                for op, row in zip(ops, rows, strict=True):

                    def get_all(paths: list[str] = op.rest) -> None:
                        for path in paths:
                            client.get(path).raise_for_status()

                    row["rest"] = summary(time_calls(get_all, op.repeat, budget)[0])
                    progress(
                        f"{op.name}: REST p50 {row['rest']['p50_ms']} ms, "
                        f"p99 {row['rest']['p99_ms']} ms"
                    )
        finally:
            server.stop()
    return rows


def table(stamp: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{stamp['messages']:,} messages, {stamp['rooms']:,} rooms, {stamp['users']:,} users; "
        f"big room {stamp['big_room_id']} with {stamp['big_room_last_seq']:,} messages; "
        f"generated in {stamp['seconds']:.0f} s ({stamp['messages_per_s']:,} messages/s)",
        "",
        "| read | queries | selector p50 ms | selector p99 ms | selector CPU p50 ms "
        "| REST p50 ms | REST p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        rest = row.get("rest") or {}
        lines.append(
            f"| {row['op']} | {row['queries']} | {row['selector']['p50_ms']} | "
            f"{row['selector']['p99_ms']} | {row['selector']['cpu_p50_ms']} | "
            f"{rest.get('p50_ms', '-')} | {rest.get('p99_ms', '-')} |"
        )
    lines += ["", "EXPLAIN (table, access type, key, rows examined estimate, extra):", ""]
    for row in rows:
        lines.append(f"- {row['op']}:")
        for plan in row["explain"]:
            lines.append(
                f"  - {plan['table']}: {plan['type']} on {plan['key']} "
                f"(~{plan['rows']} rows) {plan['extra'] or ''}".rstrip()
            )
    return "\n".join(lines)


def run(args: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    stamp = prepare(messages=args.messages, seed=args.seed, regenerate=args.regenerate)
    if args.generate_only:
        return stamp, []
    only = set(args.only.split(",")) if args.only else None
    rows = measure(stamp, repeat=args.repeat, rest=args.rest, budget=args.budget, only=only)
    return stamp, rows


if __name__ == "__main__":  # pragma: no cover - use python -m bench datascale
    sys.exit("run: python -m bench datascale")
