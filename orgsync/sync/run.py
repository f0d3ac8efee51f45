"""One run of the HR sync: pick the batch, check it, apply it in one transaction, record it.

The Celery task, the management command and the admin actions all call `hr_sync_run`.
docs/hr-interface.md is the contract with HR that this implements.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from orgsync.models import ActionLog, InterfaceBatch, SyncRun, User
from orgsync.services import CLOSE_DISABLED, action_log_record, sessions_close_on_commit
from orgsync.signals import users_active_changed
from orgsync.sync.apply import Progress, plan_apply
from orgsync.sync.batch import (
    LoadedBatch,
    Problem,
    batch_leave_out_bad_rows,
    batch_load,
    dtkey_problem,
)
from orgsync.sync.conf import hr_sync_bool, hr_sync_int
from orgsync.sync.lock import sync_lock
from orgsync.sync.plan import Plan, plan_build
from orgsync.sync.report import counts_text

logger = logging.getLogger(__name__)

DRY_RUN = "dry_run"  # the outcome status of a dry run, which records nothing


@dataclass
class SyncOutcome:
    """What a run did (or, for a dry run, would do)."""

    status: str
    dtkey: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    run_id: int | None = None
    deactivated_pks: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in (
            SyncRun.Status.APPLIED,
            SyncRun.Status.PARTIAL,
            SyncRun.Status.NO_BATCH,
            DRY_RUN,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "dtkey": self.dtkey,
            "counts": self.counts,
            "problem_count": self.problem_count,
            "message": self.message,
            "run_id": self.run_id,
        }


@dataclass
class _Result:
    status: str
    batch: InterfaceBatch | None = None
    plan: Plan | None = None
    problems: list[Problem] = field(default_factory=list)
    message: str = ""
    deactivated: list[int] = field(default_factory=list)


def _newest_applied() -> str:
    """The DTKEY of the newest applied batch, ignoring keys that are not real timestamps or lie
    in the future (one applied before they were refused would otherwise hide every batch)."""
    keys = (
        InterfaceBatch.objects.filter(status=InterfaceBatch.Status.APPLIED)
        .order_by("-dtkey")
        .values_list("dtkey", flat=True)
    )
    return next((key for key in keys.iterator() if not dtkey_problem(key)), "")


def batch_older_than_applied(batch: InterfaceBatch) -> str | None:
    """Why applying this batch would undo newer ones, or None. Re-applying the newest applied
    batch itself is allowed: it is the current state, and changes nothing."""
    newest = _newest_applied()
    if not newest or batch.dtkey >= newest or dtkey_problem(batch.dtkey):
        return None
    return (
        f"Batch {batch.dtkey} ({batch.status}) is older than the newest applied batch {newest}; "
        "applying it would undo the changes since, e.g. reactivate people who left. Nothing was "
        f"applied. If that is really wanted: manage.py hr_sync --dtkey {batch.dtkey} "
        "--force-old-batch"
    )


def _pick_batch(dtkey: str | None, *, write: bool) -> tuple[InterfaceBatch | None, str]:
    """The batch to apply: the given one, or the newest READY one newer than every applied one.

    With write=True the chosen row is locked and older READY batches become SUPERSEDED."""
    batches = InterfaceBatch.objects.select_for_update() if write else InterfaceBatch.objects
    if dtkey is not None:
        batch = batches.filter(dtkey=dtkey).first()
        if batch is None:
            return None, f"There is no batch {dtkey} in the batch control table."
        if batch.status == InterfaceBatch.Status.WRITING and write:
            return None, (
                f"Batch {dtkey} is still being written (status WRITING); HR sets it to READY "
                "when it is complete."
            )
        return batch, ""
    applied = _newest_applied()
    ready = list(batches.filter(status=InterfaceBatch.Status.READY).order_by("-dtkey"))
    chosen = ready[0] if ready and ready[0].dtkey > applied else None
    stale = [b.pk for b in ready if b is not chosen]
    if chosen is not None and dtkey_problem(chosen.dtkey):
        # A key that is no timestamp (or far in the future) sorts above the real ones: it is
        # taken on its own, to be refused with the reason, and supersedes nothing.
        stale = []
    if stale and write:
        InterfaceBatch.objects.filter(pk__in=stale).update(
            status=InterfaceBatch.Status.SUPERSEDED, checked_at=timezone.now()
        )
        logger.info("hr sync: %d older READY batches superseded", len(stale))
    if chosen is None:
        return None, "No READY batch newer than the last applied one."
    return chosen, ""


def _check(batch: InterfaceBatch, *, skip_bad_rows: bool) -> tuple[LoadedBatch, Plan | None]:
    loaded = batch_load(batch=batch, skip_bad_rows=skip_bad_rows)
    if loaded.fatal:
        return loaded, None
    plan = plan_build(loaded=loaded)
    refused = [p for p in plan.warnings if p.fatal]
    if refused and skip_bad_rows and all(p.row is not None for p in refused):
        # Org codes only the database finds taken (plan._database_clashes) are bad rows too:
        # leave them (and what hangs on them) out, and work the difference out again.
        loaded.problems.extend(refused)
        batch_leave_out_bad_rows(loaded)
        if loaded.fatal:
            return loaded, None
        plan = plan_build(loaded=loaded)
        refused = [p for p in plan.warnings if p.fatal]
    if refused:
        # Clashes only the database sees (plan._database_clashes) refuse the batch too.
        loaded.problems.extend(refused)
        return loaded, None
    return loaded, plan


def _applied_message(dtkey: str, loaded: LoadedBatch, plan: Plan) -> str:
    skipped = {(p.table, p.row) for p in loaded.skipped}
    if skipped:
        return (
            f"Batch {dtkey} applied without its {len(skipped)} bad row(s), listed row by row; "
            "the orgs and people of those rows were kept as they were."
        )
    return f"Batch {dtkey} applied" + ("." if plan.changed else ": nothing had changed.")


def _run_locked(
    run: SyncRun,
    *,
    dtkey: str | None,
    allow_mass_deactivation: bool,
    force_old_batch: bool,
    skip_bad_rows: bool,
    progress: Progress | None,
) -> _Result:
    now = timezone.now()
    with transaction.atomic():
        batch, message = _pick_batch(dtkey, write=True)
        if batch is None:
            return _Result(SyncRun.Status.NO_BATCH, message=message)
        run.dtkey = batch.dtkey  # kept for the record should the batch fail and roll back
        too_old = batch_older_than_applied(batch)
        if too_old and not force_old_batch:
            # The batch row keeps its status: it was superseded or applied, not found wrong.
            return _Result(
                SyncRun.Status.REJECTED,
                batch,
                problems=[Problem("batch", batch.pk, batch.dtkey, too_old)],
                message=too_old,
            )
        batch.checked_at = now
        loaded, plan = _check(batch, skip_bad_rows=skip_bad_rows)
        if plan is None:
            batch.status = InterfaceBatch.Status.REJECTED
            batch.save(update_fields=["status", "checked_at"])
            fatal = sum(1 for p in loaded.problems if p.fatal and not p.skipped)
            return _Result(
                SyncRun.Status.REJECTED,
                batch,
                problems=loaded.problems,
                message=f"Batch {batch.dtkey} refused: {fatal} problem(s); nothing was applied.",
            )
        too_many = plan.mass_deactivation()
        if too_many and not allow_mass_deactivation:
            batch.status = InterfaceBatch.Status.REJECTED
            batch.save(update_fields=["status", "checked_at"])
            return _Result(
                SyncRun.Status.REJECTED,
                batch,
                plan,
                problems=[
                    Problem("batch", batch.pk, batch.dtkey, too_many),
                    *loaded.skipped,
                    *plan.warnings,
                ],
                message=f"Batch {batch.dtkey} refused: too many deactivations; nothing applied.",
            )
        applied = plan_apply(plan=plan, progress=progress)
        deactivated = applied.deactivated
        batch.status = InterfaceBatch.Status.APPLIED
        batch.applied_at = now
        batch.save(update_fields=["status", "checked_at", "applied_at"])
        # In the batch's transaction: the rooms of the people who left stop counting them (and
        # count the people who came back) with the batch, or not at all.
        for pks, active in ((applied.reactivated, True), (deactivated, False)):
            if pks:
                users_active_changed.send(sender=User, user_pks=pks, active=active)
        if deactivated:
            # Their tokens stop working at once (simplejwt refuses inactive users); their open
            # sockets are closed once the deactivation is committed.
            sessions_close_on_commit(deactivated, CLOSE_DISABLED)
    return _Result(
        SyncRun.Status.PARTIAL if loaded.skipped else SyncRun.Status.APPLIED,
        batch,
        plan,
        problems=[*loaded.skipped, *plan.warnings],
        message=_applied_message(batch.dtkey, loaded, plan),
        deactivated=deactivated,
    )


def _dry_run(dtkey: str | None, *, skip_bad_rows: bool) -> SyncOutcome:
    batch, message = _pick_batch(dtkey, write=False)
    if batch is None:
        return SyncOutcome(SyncRun.Status.NO_BATCH, dtkey or "", message=message)
    loaded, plan = _check(batch, skip_bad_rows=skip_bad_rows)
    if plan is None:
        return _outcome(
            SyncOutcome(SyncRun.Status.REJECTED, batch.dtkey),
            loaded.problems,
            f"Batch {batch.dtkey} would be refused; nothing was written.",
        )
    note = plan.mass_deactivation()
    problems = [*loaded.skipped, *plan.warnings]
    text = f"Dry run of batch {batch.dtkey} (status {batch.status}); nothing was written."
    if loaded.skipped:
        rows = len({(p.table, p.row) for p in loaded.skipped})
        text += f" {rows} bad row(s) would be left out."
    too_old = batch_older_than_applied(batch)
    if too_old:
        problems = [Problem("batch", batch.pk, batch.dtkey, too_old), *problems]
        text += " A real run would refuse it unless forced: it is older than the applied one."
    if note:
        problems = [Problem("batch", batch.pk, batch.dtkey, note), *problems]
        text += " A real run would refuse it: too many deactivations."
    outcome = SyncOutcome(DRY_RUN, batch.dtkey, counts=plan.counts, sample=plan.sample)
    return _outcome(outcome, problems, text)


def _outcome(outcome: SyncOutcome, problems: list[Problem], message: str) -> SyncOutcome:
    limit = hr_sync_int("MAX_PROBLEMS")
    outcome.problem_count = len(problems)
    outcome.problems = [p.as_dict() for p in problems[:limit]]
    outcome.message = message
    return outcome


def _record(run: SyncRun, outcome: SyncOutcome, requested_by: User | None) -> None:
    run.finished_at = timezone.now()
    run.status = outcome.status
    run.dtkey = outcome.dtkey
    for name, value in outcome.counts.items():
        setattr(run, name, value)
    run.problem_count = outcome.problem_count
    run.problems = outcome.problems
    run.sample = outcome.sample
    run.message = outcome.message[:500]
    run.save()
    outcome.run_id = run.pk
    logger.info(
        "hr sync run %s (%s): batch %s %s, %s, %d problem(s)",
        run.pk,
        run.trigger,
        run.dtkey or "-",
        run.status,
        counts_text(outcome.counts),
        outcome.problem_count,
    )
    if run.status == SyncRun.Status.NO_BATCH:
        days = hr_sync_int("IDLE_RUN_DAYS")
        SyncRun.objects.filter(
            status=SyncRun.Status.NO_BATCH, started_at__lt=run.started_at - timedelta(days=days)
        ).delete()
        return
    action_log_record(
        user=requested_by,
        work=ActionLog.Work.SYNC,
        device=run.trigger,
        state=run.status,
        started_at=run.started_at,
        ended_at=run.finished_at,
        detail=f"run {run.pk} batch {run.dtkey or '-'}: {run.message}",
    )


def hr_sync_run(
    *,
    dtkey: str | None = None,
    dry_run: bool = False,
    trigger: str = SyncRun.Trigger.COMMAND,
    requested_by: User | None = None,
    allow_mass_deactivation: bool = False,
    force_old_batch: bool = False,
    skip_bad_rows: bool | None = None,
    lock_wait_seconds: float | None = None,
    progress: Progress | None = None,
) -> SyncOutcome:
    """Apply the newest complete HR batch (or the given one) and record the run.

    A dry run computes the same diff and writes nothing. Two runs never overlap: one that cannot
    get the lock within lock_wait_seconds records itself as busy and changes nothing. A given
    batch older than the newest applied one is refused unless force_old_batch (offered by the
    management command only).

    A batch is all or nothing: one bad row refuses it. With skip_bad_rows (default: the
    HR_SYNC_SKIP_BAD_ROWS setting) its good rows are applied and the bad ones reported row by
    row (status partial); nobody in a bad row is deactivated, and the mass-deactivation guard
    holds as for any batch.
    """
    if skip_bad_rows is None:
        skip_bad_rows = hr_sync_bool("SKIP_BAD_ROWS")
    if dry_run:
        return _dry_run(dtkey, skip_bad_rows=skip_bad_rows)
    wait = hr_sync_int("LOCK_WAIT_SECONDS") if lock_wait_seconds is None else lock_wait_seconds
    who = requested_by.user_id if requested_by else ""
    started = timezone.now()
    with sync_lock(wait_seconds=wait) as acquired:
        if not acquired:
            run = SyncRun(started_at=started, trigger=trigger, requested_by=who)
            outcome = SyncOutcome(
                SyncRun.Status.BUSY,
                dtkey or "",
                message="Another HR sync run holds the lock; this run did nothing.",
            )
            _record(run, outcome, requested_by)
            return outcome
        # Holding the lock proves no other run is at work: a run still marked running was
        # killed before it could record its end.
        SyncRun.objects.filter(status=SyncRun.Status.RUNNING).update(
            status=SyncRun.Status.FAILED,
            finished_at=started,
            message="Interrupted: the process ended before the run finished; nothing of it "
            "was applied.",
        )
        # Committed at once, outside the batch's transaction: admins see the run while it works
        # and keep its record if the batch is rolled back.
        run = SyncRun.objects.create(
            started_at=started, trigger=trigger, requested_by=who, dtkey=dtkey or ""
        )
        try:
            result = _run_locked(
                run,
                dtkey=dtkey,
                allow_mass_deactivation=allow_mass_deactivation,
                force_old_batch=force_old_batch,
                skip_bad_rows=skip_bad_rows,
                progress=progress,
            )
        except Exception as exc:
            logger.exception("hr sync run %s failed; the batch was rolled back", run.pk)
            outcome = SyncOutcome(
                SyncRun.Status.FAILED,
                run.dtkey,
                message=f"Failed, nothing was applied: {type(exc).__name__}: {exc}",
            )
            _record(run, outcome, requested_by)
            return outcome
        applied = (
            result.status in (SyncRun.Status.APPLIED, SyncRun.Status.PARTIAL)
            and result.plan is not None
        )
        outcome = SyncOutcome(
            result.status,
            result.batch.dtkey if result.batch else dtkey or "",
            counts=result.plan.counts if applied and result.plan else {},
            sample=result.plan.sample if applied and result.plan else [],
            deactivated_pks=result.deactivated,
        )
        _outcome(outcome, result.problems, result.message)
        _record(run, outcome, requested_by)
        return outcome
