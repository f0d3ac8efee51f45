"""Typed access to the HR_SYNC settings (messenger/settings.py, "# --- HR sync")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings


def _hr_sync() -> dict[str, Any]:
    return settings.HR_SYNC


def hr_sync_int(name: str) -> int:
    """An integer HR_SYNC setting, e.g. CHUNK_SIZE."""
    return int(_hr_sync()[name])


def hr_sync_bool(name: str) -> bool:
    """A yes/no HR_SYNC setting, e.g. SKIP_BAD_ROWS."""
    return bool(_hr_sync()[name])


def hr_sync_lock_file() -> Path:
    """The lock file used without MySQL/MariaDB."""
    return Path(_hr_sync()["LOCK_FILE"])
