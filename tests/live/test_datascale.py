"""`python -m bench datascale` end to end at a tiny size: it generates a consistent database of
its own, times every read through the selectors and a uvicorn process, and writes its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]


def _sql(database: str, query: str) -> list[list[str]]:
    done = subprocess.run(
        ["mysql", "-uroot", "-N", "-B", database, "-e", query],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split("\t") for line in done.stdout.splitlines()]


def test_datascale_generates_consistent_data_and_times_every_read(tmp_path):
    database = f"{settings.DATABASES['default']['NAME']}_scale"
    env = dict(os.environ, BENCH_SCALE_DATABASE=database)
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench",
                "--out",
                str(tmp_path),
                "datascale",
                "--messages",
                "20000",
                "--repeat",
                "3",
                "--regenerate",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        [report_path] = tmp_path.glob("datascale-*.json")
        report = json.loads(report_path.read_text())
        assert (tmp_path / report_path.name.replace(".json", ".md")).exists()

        data = report["args"]["data"]
        assert data["rows"]["talk_message"] == 20000
        assert data["big_room_last_seq"] == 2000
        ops = {row["op"]: row for row in report["rows"]}
        assert set(ops) >= {"room_list", "history_newest", "history_deep", "search_room_rare"}
        for row in ops.values():
            assert row["queries"] > 0 and row["explain"], row["op"]
            assert row["selector"]["n"] >= 1 and row["rest"]["p50_ms"] > 0, row["op"]

        # The generated rows agree with each other the way the services keep them.
        [[main_rooms]] = _sql(
            database,
            "SELECT COUNT(*) FROM rooms_roommember m JOIN orgsync_user u ON u.id = m.user_id "
            "WHERE u.user_id = 'scale00000'",
        )
        assert int(main_rooms) == 1000
        mismatched = _sql(
            database,
            "SELECT r.id FROM rooms_room r JOIN (SELECT room_id, MAX(seq) s, COUNT(*) n "
            "FROM talk_message GROUP BY room_id) m ON m.room_id = r.id "
            "WHERE r.last_seq <> m.s OR m.n <> m.s",
        )
        assert mismatched == []
        [[bad_marks]] = _sql(
            database,
            "SELECT COUNT(*) FROM rooms_roommember m JOIN rooms_room r ON r.id = m.room_id "
            "WHERE m.last_read_seq > r.last_seq OR m.last_read_seq < m.joined_seq",
        )
        assert bad_marks == "0"
        [[counted, stored]] = _sql(
            database,
            "SELECT (SELECT COUNT(*) FROM rooms_roommember WHERE state <> 'L'), "
            "(SELECT SUM(member_count) FROM rooms_room)",
        )
        assert counted == stored

        # A second run finds the stamp and reuses the data instead of generating again.
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench",
                "--out",
                str(tmp_path),
                "datascale",
                "--messages",
                "20000",
                "--generate-only",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert again.returncode == 0, again.stderr[-3000:]
        assert "reusing" in again.stdout
    finally:
        subprocess.run(["mysql", "-uroot", "-e", f"DROP DATABASE IF EXISTS {database}"], check=True)
