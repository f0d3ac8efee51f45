"""Writes about people: my profile and settings, the action log (orgsync.services)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from messenger.errors import InvalidInput
from orgsync import selectors, services
from orgsync.models import ActionLog, User


def test_profile_update_changes_only_the_given_fields(alice):
    services.profile_update(user=alice, changes={"nickname": "출장 중", "hide_sender": True})

    fresh = User.objects.get(pk=alice.pk)
    assert fresh.nickname == "출장 중"
    assert fresh.hide_sender is True
    assert fresh.notify_off is False
    assert fresh.modified_by == "alice"


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "바뀐 이름"},
        {"is_staff": True},
        {"quiet_from": time(22)},
        {"quiet_from": time(22), "quiet_to": time(22)},
    ],
    ids=repr,
)
def test_profile_update_refuses_and_saves_nothing(alice, changes):
    with pytest.raises(InvalidInput):
        services.profile_update(user=alice, changes=changes)
    fresh = User.objects.get(pk=alice.pk)
    assert fresh.name == "앨리스"
    assert fresh.is_staff is False
    assert fresh.quiet_from is None


def test_profile_update_quiet_hours_may_cross_midnight(alice):
    services.profile_update(user=alice, changes={"quiet_from": time(23), "quiet_to": time(6)})
    me = selectors.me(user=User.objects.get(pk=alice.pk))
    assert (me["quiet_from"], me["quiet_to"]) == ("23:00", "06:00")


def test_action_log_record_keeps_the_duration(alice):
    start = timezone.now()
    services.action_log_record(
        user=alice,
        work=ActionLog.Work.CONNECT,
        device="web",
        started_at=start,
        ended_at=start + timedelta(minutes=5),
    )
    row = ActionLog.objects.get(user=alice)
    assert row.duration_seconds == 300
    assert row.device == "web"
