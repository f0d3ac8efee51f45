"""A server process that stops (a deploy: systemd's SIGTERM) closes its sockets with 1012 and
exits within seconds.

Each socket's disconnect normally records itself one by one on the process's one database
thread (an action-log row, presence cleared, an "offline" push to the person's direct peers:
three round trips to the database and Redis). When the server closes every socket at once,
that queue was the stop: 300 sockets still held uvicorn ("Waiting for background tasks to
complete") 11 s after SIGTERM, and a process with 10,000 sockets would have needed minutes, so
only a second signal (SIGINT) ended it. While the process is stopping, a socket's disconnect
instead adds its action-log row to one INSERT shared by every socket closed with it, and
leaves presence alone: its client reconnects to another process within seconds (1012 asks it
to), which takes the presence entry over; one that does not come back lapses with the entry's
TTL (90 s), as after a crash. Nobody is announced offline and online again for a restart.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orgsync.models import ActionLog

logger = logging.getLogger(__name__)

# Disconnects that arrive within this long of one another share one INSERT.
COALESCE_SECONDS = 0.05

_stopping = False


def stopping_begin() -> None:
    """The server is stopping: sockets closed from now on are recorded together."""
    global _stopping
    if not _stopping:
        logger.info("server stopping: closing live sockets (1012)")
    _stopping = True


def stopping() -> bool:
    return _stopping


class DisconnectRecords:
    """The action-log rows of the sockets closed by a stopping server, one INSERT for all."""

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DisconnectRecords] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.rows: list[ActionLog] = []
        self.written: asyncio.Future[None] | None = None

    @classmethod
    def of_running_loop(cls) -> DisconnectRecords:
        loop = asyncio.get_running_loop()
        records = cls._by_loop.get(loop)
        if records is None:
            records = cls._by_loop[loop] = cls(loop)
        return records

    async def add(self, row: ActionLog) -> None:
        """Record `row` with the others of this moment; returns once they are written."""
        self.rows.append(row)
        if self.written is None:
            self.written = self.loop.create_future()
            self.loop.call_later(COALESCE_SECONDS, self._write)
        await asyncio.shield(self.written)

    def _write(self) -> None:
        rows, self.rows = self.rows, []
        written, self.written = self.written, None
        assert written is not None
        task = self.loop.create_task(_insert(rows))

        def done(task: asyncio.Task[None]) -> None:
            if task.cancelled() or task.exception() is not None:
                logger.error(
                    "could not record %d disconnects of a stopping server",
                    len(rows),
                    exc_info=None if task.cancelled() else task.exception(),
                )
            # The sockets are closed either way; nothing waits on the outcome.
            written.set_result(None)

        task.add_done_callback(done)


async def _insert(rows: list[ActionLog]) -> None:
    # Imported here: uvicorn loads this module (through the gateway's protocol class) before
    # Django is set up.
    from channels.db import database_sync_to_async

    from orgsync.services import action_log_record_many

    await database_sync_to_async(action_log_record_many)(rows)
