"""Plain-text lines describing a run, shared by the management command and admin."""

from __future__ import annotations

from typing import Any

from orgsync.sync.plan import ORG_ACTIONS, USER_ACTIONS

KIND_LABEL = {"org": "org", "user": "person"}
SIGN = {"created": "+", "deactivated": "-", "skipped": "!"}


def counts_text(counts: dict[str, int]) -> str:
    """The counts in one line, e.g. 'orgs: created 3, ...; people: created 40, ...'."""
    parts = []
    for kind, label, actions in (("org", "orgs", ORG_ACTIONS), ("user", "people", USER_ACTIONS)):
        shown = [f"{a} {counts.get(f'{kind}s_{a}', 0)}" for a in actions]
        parts.append(f"{label}: " + ", ".join(shown))
    return "; ".join(parts)


def _value(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return str(value)


def sample_line(entry: dict[str, Any]) -> str:
    """One change of a run's sample, e.g. '~ person kim moved: org DEV -> SALES'."""
    sign = SIGN.get(entry["action"], "~")
    head = f"{sign} {KIND_LABEL.get(entry['kind'], entry['kind'])} {entry['key']} {entry['action']}"
    changes = entry.get("changes") or {}
    if not changes:
        return head
    if entry["action"] == "created":
        detail = ", ".join(f"{name} {_value(value)}" for name, value in changes.items())
    else:
        detail = ", ".join(
            f"{name} {_value(old)} -> {_value(new)}" for name, (old, new) in changes.items()
        )
    return f"{head}: {detail}"


def problem_line(problem: dict[str, Any]) -> str:
    """One problem, e.g. 'user row 17 (kim): USER_ID kim appears 2 times ...'."""
    where = problem["table"]
    if problem.get("row") is not None:
        where += f" row {problem['row']}"
    if problem.get("key"):
        where += f" ({problem['key']})"
    if problem.get("skipped"):
        level = "row not applied: "
    elif problem.get("fatal", True):
        level = ""
    else:
        level = "warning: "
    return f"{where}: {level}{problem['message']}"
