"""Time the HR sync: the first sync of a company of --people in --orgs, a re-run of the same
batch, the next day's batch of changes, and a scheduled run with nothing new.

It runs on a throwaway database beside the configured one (`<name>_bench`, created, migrated and
dropped again), so it never touches real data. docs/hr-interface.md has the figures."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from orgsync.models import SyncRun, User
from orgsync.sync import SyncOutcome, counts_text, hr_sync_run
from orgsync.testfeed import feed_write_first, feed_write_next


class Command(BaseCommand):
    help = "Benchmark the HR sync on a throwaway database (e.g. --people 50000 --orgs 5000)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--people", type=int, default=50000)
        parser.add_argument("--orgs", type=int, default=5000)
        parser.add_argument("--levels", type=int, default=5)

    def handle(self, *args, **options) -> None:
        people, orgs, levels = options["people"], options["orgs"], options["levels"]
        if people < 100 or orgs < levels:
            raise CommandError("Use at least 100 people and one org per level.")
        real_name = connection.settings_dict["NAME"]
        if connection.vendor == "mysql":
            bench_name = f"{real_name}_bench"
        else:
            bench_name = str(settings.VAR_DIR / "bench.sqlite3")
        connection.settings_dict["TEST"] = {**connection.settings_dict["TEST"], "NAME": bench_name}
        self.stdout.write(f"Creating the throwaway database {bench_name} ...")
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            self.bench(people, orgs, levels, bench_name)
        finally:
            connection.creation.destroy_test_db(real_name, verbosity=0)

    def timed(self, label: str, action: Callable[[], Any]) -> tuple[Any, float]:
        start = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - start
        self.stdout.write(f"  {label:<52} {seconds:8.2f} s")
        return result, seconds

    def sync(self, label: str, **kwargs: Any) -> tuple[SyncOutcome, float]:
        outcome, seconds = self.timed(label, lambda: hr_sync_run(**kwargs))
        if outcome.status not in (SyncRun.Status.APPLIED, SyncRun.Status.NO_BATCH):
            raise CommandError(f"The sync did not apply: {outcome.message}")
        if outcome.counts:
            self.stdout.write(f"      {counts_text(outcome.counts)}")
        return outcome, seconds

    def bench(self, people: int, orgs: int, levels: int, bench_name: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT VERSION()" if connection.vendor == "mysql" else "SELECT 1")
            server = cursor.fetchone()[0]
        engine = f"MySQL/MariaDB {server}" if connection.vendor == "mysql" else "SQLite"
        self.stdout.write(
            f"HR sync benchmark: {people:,} people in {orgs:,} orgs over {levels} levels, "
            f"on {engine} (chunks of {settings.HR_SYNC['CHUNK_SIZE']})"
        )
        first, _ = self.timed(
            "write the first batch (test feed)",
            lambda: feed_write_first(people=people, orgs=orgs, levels=levels),
        )
        self.sync("first sync: create everything")
        active = User.objects.filter(is_active=True, is_synced=True).count()
        if active != people:
            raise CommandError(f"Expected {people} synced people after the sync, found {active}.")
        rerun, _ = self.sync("re-run of the same batch: nothing to change", dtkey=first.dtkey)
        if any(rerun.counts.values()):
            raise CommandError("The re-run changed something; it must not.")
        self.timed("write the next day's batch (test feed --next)", lambda: feed_write_next())
        self.sync("next day's batch: moves, renames, joiners, leavers")
        self.sync("scheduled run with no new batch")
        self.stdout.write(f"The throwaway database {bench_name} is dropped now.")
