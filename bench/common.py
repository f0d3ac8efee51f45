"""Helpers the scenarios share: users and tokens in bulk, rooms, process figures from /proc,
the file-descriptor limit, client worker processes and a REST client."""

from __future__ import annotations

import contextlib
import os
import resource
import time
import uuid
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_fd_limit(wanted: int = 1_000_000) -> int:
    """Raise this process's open-file limit as far as the hard limit allows (children started
    afterwards, the server processes included, inherit it). Returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (utime + stime of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # After the ")" closing comm: field 3 (state) is index 0, so utime (14) is 11, stime 12.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[rank]


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def new_marker() -> str:
    return uuid.uuid4().hex[:6]


def ensure_users(user_ids: list[str]) -> list[Any]:
    """The users with these logins, created in bulk where missing; in the given order."""
    from orgsync.models import User

    existing = set()
    for start in range(0, len(user_ids), 5000):
        chunk = user_ids[start : start + 5000]
        existing.update(User.objects.filter(user_id__in=chunk).values_list("user_id", flat=True))
    fresh = []
    for login in user_ids:
        if login in existing:
            continue
        user = User(user_id=login, name=f"벤치 {login[-5:]}", is_active=True)
        # An unusable password without hashing: these users only ever use minted tokens.
        user.password = "!bench"
        fresh.append(user)
    User.objects.bulk_create(fresh, batch_size=2000)
    users: dict[str, Any] = {}
    for start in range(0, len(user_ids), 5000):
        chunk = user_ids[start : start + 5000]
        users.update({u.user_id: u for u in User.objects.filter(user_id__in=chunk)})
    return [users[login] for login in user_ids]


def tokens_for(users: list[Any]) -> list[str]:
    """Access tokens minted directly (no login round trip)."""
    from rest_framework_simplejwt.tokens import AccessToken

    return [str(AccessToken.for_user(user)) for user in users]


def make_group(owner: Any, members: list[Any]) -> int:
    """A group room of owner + members (reused when exactly these people have one)."""
    from messages import services

    if len(members) == 1:
        room, _ = services.room_open_direct(actor=owner, peer=members[0])
    else:
        room, _ = services.room_create(actor=owner, member_ids=[m.user_id for m in members])
    return room.pk


class Ticker:
    """Prints a progress line at most every `every` seconds."""

    def __init__(self, progress, every: float = 2.0) -> None:
        self.progress = progress
        self.every = every
        self.last = 0.0

    def __call__(self, line: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.every:
            self.last = now
            self.progress(line)
