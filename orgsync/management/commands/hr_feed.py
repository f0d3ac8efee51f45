"""Write a realistic HR batch into the interface tables, as HR's export would: a whole company
(--people, --orgs, --levels, Korean names), or with --next the following day's batch with
moves, renames, a reorganised branch, a closed org, joiners and leavers. For tests, demos and
the benchmark; refuses to run in production unless given --force."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orgsync.models import InterfaceBatch
from orgsync.testfeed import feed_write_first, feed_write_next


class Command(BaseCommand):
    help = "Write a test HR batch (and its READY control row) into the interface tables."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--people", type=int, default=5000)
        parser.add_argument("--orgs", type=int, default=500)
        parser.add_argument("--levels", type=int, default=5)
        parser.add_argument("--next", action="store_true", help="Follow the newest batch.")
        parser.add_argument("--dtkey", help="Batch key (default: now, YYYYMMDDhhmmss).")
        parser.add_argument("--seed", type=int, default=None, help="Random seed.")
        parser.add_argument(
            "--writing",
            action="store_true",
            help="Leave the control row at WRITING (a half-written batch the sync must ignore).",
        )
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("DJANGO_DEBUG is off: this writes a fake company. Use --force.")
        status = InterfaceBatch.Status.WRITING if options["writing"] else None
        extra = {"status": status} if status else {}
        try:
            if options["next"]:
                batch = feed_write_next(
                    seed=options["seed"] if options["seed"] is not None else 2,
                    dtkey=options["dtkey"],
                    **extra,
                )
            else:
                batch = feed_write_first(
                    people=options["people"],
                    orgs=options["orgs"],
                    levels=options["levels"],
                    seed=options["seed"] if options["seed"] is not None else 1,
                    dtkey=options["dtkey"],
                    **extra,
                )
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Batch {batch.dtkey}: {batch.org_count} orgs, {batch.user_count} people, "
            f"status {batch.status}."
        )
