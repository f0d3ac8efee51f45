"""Schedule the file expiry job in django-celery-beat: every hour, editable in admin.

A data migration rather than CELERY_BEAT_SCHEDULE, because beat rewrites the entries of that
setting on every start and would undo what an admin changed (interval, enabled)."""

from django.db import migrations

TASK_NAME = "Expire files and clean up unfinished uploads"
TASK = "filetransfer.files_expire"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_hour, _created = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK,
            "interval": every_hour,
            "enabled": True,
            "description": "Deletes files past their expiry (their messages stay, marked "
            "expired) and uploads that never completed. See docs/files.md.",
        },
    )


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("filetransfer", "0003_file_lifecycle_and_link_previews"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
