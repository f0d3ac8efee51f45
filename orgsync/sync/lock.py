"""The lock that keeps two HR sync runs from overlapping, across processes and machines.

On MySQL/MariaDB it is a named server lock (GET_LOCK) held by the run's database session: any
process on any machine that uses the same database sees it, and the server frees it when the
session ends, so a killed run cannot leave it stuck. Without MySQL (the embedded SQLite default)
it is an exclusive lock on a file, which the operating system frees with the process.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from orgsync.sync.conf import hr_sync_lock_file

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2


def lock_name() -> str:
    """The server lock's name: one per database, so installations sharing a server do not
    block each other (MySQL caps lock names at 64 characters)."""
    return f"hr_sync.{connection.settings_dict['NAME']}"[:64]


@contextmanager
def _server_lock(wait_seconds: float) -> Iterator[bool]:
    name = lock_name()
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, %s)", [name, wait_seconds])
        acquired = cursor.fetchone()[0] == 1
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", [name])


@contextmanager
def _file_lock(wait_seconds: float) -> Iterator[bool]:
    path = hr_sync_lock_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                acquired = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    acquired = False
                    break
                time.sleep(POLL_SECONDS)
        try:
            yield acquired
        finally:
            if acquired:
                fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def sync_lock(*, wait_seconds: float = 0) -> Iterator[bool]:
    """Hold the HR sync lock for the block; yields False when another run kept it longer than
    wait_seconds (the block must then do nothing)."""
    if connection.vendor == "mysql":
        with _server_lock(wait_seconds) as acquired:
            yield acquired
    else:
        with _file_lock(wait_seconds) as acquired:
            yield acquired


def sync_lock_held() -> bool:
    """Whether some session holds the lock right now (for admin pages and tests)."""
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT IS_USED_LOCK(%s)", [lock_name()])
            return cursor.fetchone()[0] is not None
    with _file_lock(0) as acquired:
        return not acquired
