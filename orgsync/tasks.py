"""Celery tasks of orgsync. They take ids, call the service, and return a small summary."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from orgsync.models import SyncRun, User
from orgsync.sync import hr_sync_run


@shared_task(name="orgsync.hr_sync", ignore_result=True)
def hr_sync(
    dtkey: str | None = None,
    requested_by_pk: int | None = None,
    skip_bad_rows: bool | None = None,
) -> dict[str, Any]:
    """Run the HR sync: on the beat schedule (no arguments) or queued by an admin action.
    skip_bad_rows None follows the HR_SYNC_SKIP_BAD_ROWS setting."""
    requested_by = User.objects.filter(pk=requested_by_pk).first() if requested_by_pk else None
    outcome = hr_sync_run(
        dtkey=dtkey,
        trigger=SyncRun.Trigger.ADMIN if requested_by else SyncRun.Trigger.SCHEDULE,
        requested_by=requested_by,
        skip_bad_rows=skip_bad_rows,
    )
    return outcome.as_dict()
