"""Smoke tests of the benchmark scenarios (python -m bench ...): tiny sizes, run as the lead
would run them (a subprocess starting its own server processes), on the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.live


def run_bench(tmp_path: Path, *argv: str, timeout: float = 240) -> list[dict]:
    env = dict(
        os.environ,
        BENCH_MYSQL_DATABASE=settings.DATABASES["default"]["NAME"],
        BENCH_REDIS_PREFIX=f"{settings.REDIS_PREFIX}-bench",
        BENCH_SKIP_MIGRATE="1",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--out", str(tmp_path), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    if argv[0] == "all":
        return []
    (report,) = tmp_path.glob(f"{argv[0]}-*.json")
    assert (tmp_path / report.name.replace(".json", ".md")).read_text().startswith("|")
    return json.loads(report.read_text())["rows"]


def test_idle(transactional_db, tmp_path):
    (row,) = run_bench(
        tmp_path, "idle", "--count", "30", "--workers", "2", "--idle-seconds", "2",
        "--alive-period", "2", "--ramp-timeout", "120",
    )  # fmt: skip
    assert row["connected"] == 30 and row["failed"] == 0
    assert row["still_open_after_alive"] == 30
    assert row["alive_acks"] >= 30  # every socket's heartbeat was answered
    assert 0 < row["rss_kb_per_socket"] < 1000
    assert row["idle_cpu_percent"] >= 0


def test_storm(transactional_db, tmp_path):
    (row,) = run_bench(
        tmp_path, "storm", "--count", "20", "--room-size", "5", "--workers", "2",
        "--window", "2", "--rate", "10", "--timeout", "200",
    )  # fmt: skip
    assert row["reconnected"] == 20 and row["caught_up"] == 20
    assert row["acked"] > 0 and row["expected_copies"] == row["acked"] * 5
    assert row["lost"] == 0 and row["doubled"] == 0
    assert row["errors"] == {}


def test_rows(transactional_db, tmp_path):
    rows = run_bench(tmp_path, "rows", "--sizes", "2,5", "--messages", "3")
    assert [r["members"] for r in rows] == [2, 5]
    for row in rows:
        # A message is one insert; the room's last seq and the sender's read mark move.
        assert row["rows_per_message"] == 3
        # Stored as one batch: one insert each, the room and the read mark once for all.
        assert row["batched_rows_per_message"] == pytest.approx((3 + 2) / 3)
        assert row["by_table"]["INSERT talk_message"] == 1


def test_mixed(transactional_db, tmp_path):
    rows = run_bench(
        tmp_path, "mixed", "--steps", "4,8", "--step-seconds", "3", "--think", "0.5",
        "--max-seconds", "60",
    )  # fmt: skip
    assert rows and rows[0]["users"] == 4
    assert rows[0]["requests"] > 0
    assert {"send", "rooms"} <= set(rows[0]["ops"])
    assert all(r["errors"] == 0 for r in rows)


def test_all_runs_its_plan(transactional_db, tmp_path):
    run_bench(tmp_path, "all", "--smoke", "--only", "rows,storm")
    (summary,) = tmp_path.glob("all-*.md")
    text = summary.read_text()
    assert "## rows --sizes 2,5" in text and "## storm --count 10" in text
    assert "FAILED" not in text and "fanout" not in text
