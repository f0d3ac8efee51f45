"""The default HR sync schedule: every 15 minutes, editable (or disabled) in admin under
Periodic tasks. Each run that finds no new READY batch only records a short 'no_batch' run."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "HR org sync"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    every, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task="orgsync.hr_sync",
        interval=every,
        enabled=True,
        description=(
            "Applies the newest READY batch of the HR interface tables "
            "(docs/hr-interface.md). Runs never overlap: a run that finds another one "
            "holding the lock records itself as 'busy' and does nothing."
        ),
    )
    # Tell a running beat (DatabaseScheduler) that its schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orgsync", "0002_hr_interface"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
