"""Signals of messages, for the apps above it (ARCHITECTURE.md, "Layering": messages must not
import notifications or filetransfer, which react to new messages)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by messages.services inside the transaction that stored new messages of one room, with
# `messages`: the Message instances in seq order, primary keys set. One signal for a whole
# batch (a socket's queued sends stored together), so receivers queue one task per batch; a
# receiver that acts on the commit registers transaction.on_commit.
messages_appended = Signal()
