"""Where to reach a person when no client of theirs is connected: their browsers' Web Push
subscriptions (no seed table: the seed had no offline push)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class WebPushSubscription(models.Model):
    """One browser's push subscription (PushSubscription.toJSON() of the Push API)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    # Push service URLs are long but bounded; 700 chars of utf8mb4 fit MariaDB's index limit.
    endpoint = models.CharField(max_length=700, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"push subscription {self.pk} of user {self.user_id}"
