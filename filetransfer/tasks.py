"""Celery tasks of file transfer: they take ids, call a service, and are queued on commit."""

from __future__ import annotations

from celery import shared_task

from filetransfer import services


@shared_task(name="filetransfer.files_expire", ignore_result=True)
def files_expire() -> dict[str, int]:
    """Run by beat every hour (the schedule is in admin, see docs/files.md)."""
    return services.files_expire()


@shared_task(
    name="filetransfer.link_preview",
    ignore_result=True,
    soft_time_limit=30,
    time_limit=40,
)
def link_preview(message_pk: int) -> bool:
    """Fetch the card of a talk message's first URL and push it as message_updated."""
    return services.link_preview_attach(message_pk=message_pk)
