"""A server the tests run in a process of their own: started, waited for until a URL answers,
stopped (terminate, then kill). Shared by the browser tests' daphne and the test OpenID
provider."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def process_start(
    command: list[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    ready_url: str,
    name: str,
    timeout: float = 30.0,
) -> subprocess.Popen[bytes]:
    """Start `command` in the repository, its output appended to `log_path`, and return once
    `ready_url` answers 200; a process that exits or never answers is stopped and raised."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process_stop(process)
    raise RuntimeError(f"{name} did not answer {ready_url}:\n{log_path.read_text()[-3000:]}")


def process_stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate a process still running, and kill it if it is not gone within 10 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
