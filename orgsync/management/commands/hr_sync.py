"""Run the HR sync by hand: apply the newest READY batch (or --dtkey), or --dry-run to see the
difference without writing. Prints a progress bar and a summary; exits non-zero when the batch
was refused, the run failed or another run held the lock."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from orgsync.models import SyncRun
from orgsync.sync import DRY_RUN, SyncOutcome, counts_text, hr_sync_run, problem_line, sample_line

PROBLEMS_SHOWN = 50


class ProgressBar:
    """A one-line progress bar on a terminal; one line per finished phase otherwise."""

    def __init__(self, stream: OutputWrapper, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.tty:
            filled = self.width * done // total if total else self.width
            bar = "#" * filled + "-" * (self.width - filled)
            end = "\n" if done >= total else ""
            self.stream.write(f"\r{phase:<20} [{bar}] {done}/{total}", ending=end)
        elif done >= total:
            self.stream.write(f"{phase}: {total}")
        self.stream.flush()


class Command(BaseCommand):
    help = "Apply the newest complete HR interface batch (docs/hr-interface.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Show the diff; write nothing.")
        parser.add_argument(
            "--dtkey",
            help="Apply (or dry-run) this batch instead of the newest READY one. A batch that "
            "is still WRITING is never applied.",
        )
        parser.add_argument(
            "--allow-mass-deactivation",
            action="store_true",
            help="Apply even when the batch deactivates more people than HR_SYNC allows.",
        )
        parser.add_argument(
            "--force-old-batch",
            action="store_true",
            help="With --dtkey: apply the batch even though it is older than the newest applied "
            "one (this undoes the changes since, e.g. reactivates people who left).",
        )
        parser.add_argument(
            "--skip-bad-rows",
            action="store_true",
            default=None,
            help="Apply the batch's good rows and list the bad ones row by row, instead of "
            "refusing the whole batch (default HR_SYNC_SKIP_BAD_ROWS). People in bad rows are "
            "kept as they are, never deactivated.",
        )
        parser.add_argument(
            "--all-or-nothing",
            action="store_false",
            dest="skip_bad_rows",
            default=None,
            help="Refuse the batch if any row is bad, whatever HR_SYNC_SKIP_BAD_ROWS says.",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=None,
            help="Seconds to wait for a running sync (default HR_SYNC_LOCK_WAIT_SECONDS).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options) -> None:
        progress = None if options["no_progress"] else ProgressBar(self.stderr)
        outcome = hr_sync_run(
            dtkey=options["dtkey"],
            dry_run=options["dry_run"],
            trigger=SyncRun.Trigger.COMMAND,
            allow_mass_deactivation=options["allow_mass_deactivation"],
            force_old_batch=options["force_old_batch"],
            skip_bad_rows=options["skip_bad_rows"],
            lock_wait_seconds=options["wait"],
            progress=progress,
        )
        self.report(outcome)
        if not outcome.ok or (options["dtkey"] and outcome.status == SyncRun.Status.NO_BATCH):
            raise CommandError(outcome.message)

    def report(self, outcome: SyncOutcome) -> None:
        run = f" (run {outcome.run_id})" if outcome.run_id else ""
        status = "dry run" if outcome.status == DRY_RUN else outcome.status
        self.stdout.write(f"HR sync, batch {outcome.dtkey or '-'}: {status}{run}")
        self.stdout.write(outcome.message)
        if outcome.counts:
            orgs, people = counts_text(outcome.counts).split("; ")
            self.stdout.write(f"  {orgs}")
            self.stdout.write(f"  {people}")
        if outcome.sample:
            self.stdout.write("Sample of the changes:")
            for entry in outcome.sample:
                self.stdout.write(f"  {sample_line(entry)}")
        if outcome.problem_count:
            shown = outcome.problems[:PROBLEMS_SHOWN]
            self.stdout.write(f"Problems ({len(shown)} of {outcome.problem_count} shown):")
            for problem in shown:
                self.stdout.write(f"  {problem_line(problem)}")
