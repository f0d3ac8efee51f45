"""Signals of orgsync, for the apps above it (ARCHITECTURE.md, "Layering": orgsync must not
import rooms or messages, whose memberships depend on whether a person's account is active)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that turned accounts off or back on (the HR sync, the admin), with
# `user_pks`: the primary keys whose `is_active` changed, locked by the sender; and `active`:
# their new state. One signal for the whole change, however many people, so receivers work in
# bulk; a receiver that pushes to clients does it on commit.
users_active_changed = Signal()
