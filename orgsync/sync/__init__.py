"""The HR interface-table sync (docs/hr-interface.md): batch.py reads and checks a batch,
plan.py compares it with the database, apply.py writes the difference, lock.py keeps runs from
overlapping and run.py ties them together and records each run."""

from orgsync.sync.report import counts_text, problem_line, sample_line
from orgsync.sync.run import DRY_RUN, SyncOutcome, hr_sync_run

__all__ = [
    "DRY_RUN",
    "SyncOutcome",
    "counts_text",
    "hr_sync_run",
    "problem_line",
    "sample_line",
]
