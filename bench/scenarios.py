"""The command line of the idle, storm, rows and mixed scenarios and of `all`: their
arguments, how each runs, and the table each writes beside its JSON."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from bench import env


def progress(line: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {line}", flush=True)


def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def markdown(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A table of `rows` with (key, title, format) columns; a missing value shows "-"."""
    lines = ["| " + " | ".join(title for _k, title, _f in columns) + " |"]
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        cells = []
        for key, _title, fmt in columns:
            value = row.get(key)
            cells.append("-" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _rest_heavy() -> None:
    """Servers of REST-heavy scenarios close each request's database connection: under ASGI
    every request runs in a thread of its own, and persistent connections (the default 60 s)
    piled up past MariaDB's max_connections in a storm (docs/benchmarks.md). An explicit
    MYSQL_CONN_MAX_AGE in the environment wins."""
    if "MYSQL_CONN_MAX_AGE" not in os.environ:
        os.environ["MYSQL_CONN_MAX_AGE"] = "0"
        progress("server processes run with MYSQL_CONN_MAX_AGE=0 (see docs/benchmarks.md)")


def _setup() -> None:
    # A terminated run still stops its servers and client processes (the `finally`s).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env.ensure_database()
    env.setup_django()


# --- idle ------------------------------------------------------------------------------------


def cmd_idle(args: argparse.Namespace) -> list[dict]:
    from bench.idle import run_idle

    _setup()
    print(f"idle: {args.count} connections to one {args.server} process", flush=True)
    row = run_idle(
        server_kind=args.server,
        count=args.count,
        workers=args.workers,
        idle_seconds=args.idle_seconds,
        alive_period=args.alive_period,
        ramp_timeout=args.ramp_timeout,
        progress=progress,
    )
    progress(
        f"{row['connected']} open, {row['rss_kb_per_socket']:.1f} KB/socket, "
        f"idle CPU {row['idle_cpu_percent']:.1f} %, with heartbeats {row['alive_cpu_percent']:.1f} %"
    )
    return [row]


def table_idle(rows: list[dict]) -> str:
    text = markdown(
        rows,
        [
            ("server", "server", "{}"),
            ("requested", "requested", "{}"),
            ("connected", "held", "{}"),
            ("failed", "failed", "{}"),
            ("connects_per_s", "connects/s", "{:.0f}"),
            ("ramp_cpu_ms_per_connect", "CPU ms/connect", "{:.2f}"),
            ("rss_kb_per_socket", "RSS KB/socket", "{:.1f}"),
            ("server_rss_connected_kb", "server RSS KB", "{}"),
            ("idle_cpu_percent", "idle CPU %", "{:.2f}"),
            ("alive_cpu_percent", "CPU % with alive", "{:.2f}"),
            ("alive_ms_p99", "alive ack p99 ms", "{:.1f}"),
            ("still_open_after_alive", "open at end", "{}"),
        ],
    )
    notes = []
    for row in rows:
        if row.get("ramp_halted"):
            notes.append(
                f"The ramp ran out of time (--ramp-timeout) after {row['connected']} sockets; "
                "the figures are for those."
            )
        if row.get("failures"):
            notes.append(f"failures: {row['failures']}")
        if row.get("closed_by_server"):
            notes.append(f"closed by the server (close code: count): {row['closed_by_server']}")
        notes.append(
            f"idle CPU is over {row['idle_seconds']:.0f} s without client frames "
            f"(server WebSocket pings every {row['server_ping_interval_s']} s); "
            f"'with alive' is over {row['alive_seconds']:.0f} s with every socket sending "
            f"`alive` every {row['alive_period_s']:.0f} s. Target: >= 10,000 sockets per "
            "process, <= 100 KB each, <= 5 % CPU."
        )
    return text + "\n\n" + "\n".join(notes)


# --- rows ------------------------------------------------------------------------------------


def cmd_rows(args: argparse.Namespace) -> list[dict]:
    from bench.rows import run_rows

    _setup()
    rows = []
    for size in args.sizes:
        print(f"rows: {args.messages} messages in a room of {size}", flush=True)
        row = run_rows(size=size, messages=args.messages, progress=progress)
        rows.append(row)
        progress(
            f"{row['rows_per_message']:.2f} rows written per message "
            f"({row['statements_per_message']:.2f} statements)"
        )
    return rows


def table_rows(rows: list[dict]) -> str:
    text = markdown(
        rows,
        [
            ("members", "members", "{}"),
            ("messages", "messages", "{}"),
            ("rows_per_message", "rows written/msg", "{:.2f}"),
            ("statements_per_message", "write statements/msg", "{:.2f}"),
            ("handler_writes_per_message", "Handler_write/msg", "{:.1f}"),
            ("handler_updates_per_message", "Handler_update/msg", "{:.1f}"),
            ("ms_per_send", "ms/send (in process)", "{:.1f}"),
            ("batched_rows_per_message", "rows/msg, batched", "{:.2f}"),
            ("batched_ms_per_message", "ms/msg, batched", "{:.1f}"),
            ("notify_rows_per_message", "notify rule rows/msg", "{:.2f}"),
        ],
    )
    lines = [text, "", "Rows per message by statement and table:"]
    for row in rows:
        parts = ", ".join(f"{k} {v:g}" for k, v in row["by_table"].items())
        lines.append(f"- {row['members']} members: {parts or 'none'}")
        notify = ", ".join(f"{k} {v:g}" for k, v in row["notify_by_table"].items())
        lines.append(f"  - notification rule: {notify or 'none'}")
    lines.append("")
    lines.append("Target: <= 3 rows written per message whatever the room size.")
    return "\n".join(lines)


# --- storm -----------------------------------------------------------------------------------


def cmd_storm(args: argparse.Namespace) -> list[dict]:
    from bench.storm import run_storm

    _setup()
    _rest_heavy()
    print(
        f"storm: {args.count} clients in rooms of {args.room_size}, "
        f"{args.processes} server process(es)",
        flush=True,
    )
    row = run_storm(
        count=args.count,
        room_size=args.room_size,
        processes=args.processes,
        workers=args.workers,
        window=args.window,
        rate=args.rate,
        timeout=args.timeout,
        progress=progress,
    )
    progress(
        f"reconnect p99 {row['reconnect_ms_p99']:.0f} ms, catch-up p99 "
        f"{row['catchup_ms_p99']:.0f} ms, lost {row['lost']}, doubled {row['doubled']}"
    )
    return [row]


def table_storm(rows: list[dict]) -> str:
    text = markdown(
        rows,
        [
            ("clients", "clients", "{}"),
            ("room_size", "room size", "{}"),
            ("server_processes", "server processes", "{}"),
            ("window_s", "window s", "{:.0f}"),
            ("acked", "messages sent+acked", "{}"),
            ("reconnected", "reconnected", "{}"),
            ("caught_up", "caught up", "{}"),
            ("reconnect_ms_p50", "reconnect p50 ms", "{:.0f}"),
            ("reconnect_ms_p99", "reconnect p99 ms", "{:.0f}"),
            ("catchup_ms_p50", "catch-up p50 ms", "{:.0f}"),
            ("catchup_ms_p99", "catch-up p99 ms", "{:.0f}"),
            ("lost", "lost", "{}"),
            ("doubled", "doubled", "{}"),
        ],
    )
    notes = []
    for row in rows:
        notes.append(
            f"{row['expected_copies']} message copies expected across clients; "
            f"{row['deduped_copies']} arrived both by push and by catch-up (deduped by msg_id); "
            f"{row['catchup_requests']} catch-up requests."
        )
        notes.append(
            f"sender: {row['sent']} sent, {row['acked']} acked, {row.get('send_refused')} refused "
            f"{row.get('send_errors') or ''}, {row.get('send_unanswered')} unanswered."
        )
        if row["errors"]:
            notes.append(f"errors: {row['errors']}")
        if row["closed_by_server"]:
            notes.append(f"closed by the server (code: count): {row['closed_by_server']}")
    return text + "\n\n" + "\n".join(notes)


# --- mixed -----------------------------------------------------------------------------------


def cmd_mixed(args: argparse.Namespace) -> list[dict]:
    from bench.mixed import run_mixed

    _setup()
    _rest_heavy()
    print(
        f"mixed: steps {args.steps}, {args.step_seconds:.0f} s each, think {args.think:.0f} s",
        flush=True,
    )
    rows = run_mixed(
        steps=args.steps,
        step_seconds=args.step_seconds,
        think=args.think,
        room_size=args.room_size,
        processes=args.processes,
        workers=args.workers,
        max_seconds=args.max_seconds,
        progress=progress,
    )
    held = [r["users"] for r in rows if r["held"]]
    progress(f"largest step held: {max(held) if held else 'none'} users")
    return rows


def table_mixed(rows: list[dict]) -> str:
    text = markdown(
        rows,
        [
            ("users", "users", "{}"),
            ("requests_per_s", "requests/s", "{:.0f}"),
            ("mean_ms", "mean ms", "{:.1f}"),
            ("p50_ms", "p50 ms", "{:.1f}"),
            ("p99_ms", "p99 ms", "{:.1f}"),
            ("errors", "errors", "{}"),
            ("held", "held", "{}"),
        ],
    )
    lines = [text, ""]
    for row in rows:
        ops = ", ".join(
            f"{op} {v['count']} (p50 {v['p50_ms']:.0f} / p99 {v['p99_ms']:.0f} ms)"
            for op, v in row["ops"].items()
        )
        lines.append(f"- {row['users']} users: {ops}")
        if row["error_ops"]:
            lines.append(f"  - errors by request: {row['error_ops']}")
    held = [r["users"] for r in rows if r["held"]]
    lines.append("")
    lines.append(
        f"Largest number of users held (mean <= 100 ms, p99 <= 2 s, errors <= 1 %): "
        f"{max(held) if held else 'none'}."
    )
    return "\n".join(lines)


# --- all -------------------------------------------------------------------------------------

# Every scenario with sizes that fit in about 20-30 minutes on the 2-core machine.
ALL_PLAN: list[list[str]] = [
    ["rows", "--sizes", "2,50,500,2000", "--messages", "20"],
    ["fanout", "--sizes", "2,50,500,2000", "--paced", "40", "--burst", "100"],
    # Send->ack at 100 messages a second (the 30 ms p99 target).
    ["fanout", "--sizes", "2,500", "--paced", "200", "--rate", "100", "--no-baseline"],
    ["idle", "--count", "10000", "--ramp-timeout", "420"],
    ["storm", "--count", "5000", "--room-size", "50", "--timeout", "600"],
    ["mixed", "--max-seconds", "300"],
    # Reuses messenger_scale when it already holds the 10M messages (generating them is slow).
    ["datascale"],
]
# The same with tiny sizes (`all --smoke`): proves the plan runs, in about a minute.
SMOKE_PLAN: list[list[str]] = [
    ["rows", "--sizes", "2,5", "--messages", "2"],
    ["fanout", "--sizes", "3", "--paced", "3", "--burst", "3", "--no-baseline"],
    ["idle", "--count", "20", "--workers", "1", "--idle-seconds", "1", "--alive-period", "1"],
    ["storm", "--count", "10", "--room-size", "5", "--workers", "1", "--window", "1"],
    ["mixed", "--steps", "3", "--step-seconds", "2", "--think", "0.5"],
]


# --- the parsers -----------------------------------------------------------------------------


def add_parsers(sub) -> None:
    idle = sub.add_parser("idle", help="N idle authenticated sockets on one server process")
    idle.add_argument("--count", type=int, default=10000)
    idle.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    idle.add_argument("--workers", type=int, default=4, help="client processes")
    idle.add_argument(
        "--idle-seconds",
        type=float,
        default=None,
        help="quiet window (default: one round of the server's pings, at least 20 s)",
    )
    idle.add_argument("--alive-period", type=float, default=25.0, help="heartbeat period")
    idle.add_argument("--ramp-timeout", type=float, default=300.0)
    idle.set_defaults(func=cmd_idle, table=table_idle)

    storm = sub.add_parser("storm", help="every client drops and reconnects with catch-up")
    storm.add_argument("--count", type=int, default=5000, help="clients")
    storm.add_argument("--room-size", type=int, default=50)
    storm.add_argument("--processes", type=int, default=1, help="server processes")
    storm.add_argument("--workers", type=int, default=4, help="client processes")
    storm.add_argument("--window", type=float, default=10.0, help="seconds the drops spread over")
    storm.add_argument("--rate", type=float, default=20.0, help="messages per second sent")
    storm.add_argument("--timeout", type=float, default=600.0, help="seconds, at most")
    storm.set_defaults(func=cmd_storm, table=table_storm)

    mixed = sub.add_parser("mixed", help="simulated users in steps: the largest number held")
    mixed.add_argument("--steps", type=int_list, default=[50, 100, 200, 400, 800, 1600])
    mixed.add_argument("--step-seconds", type=float, default=30.0)
    mixed.add_argument("--think", type=float, default=10.0, help="mean seconds between actions")
    mixed.add_argument("--room-size", type=int, default=8)
    mixed.add_argument("--processes", type=int, default=1, help="server processes")
    mixed.add_argument("--workers", type=int, default=2, help="client processes")
    mixed.add_argument("--max-seconds", type=float, default=300.0)
    mixed.set_defaults(func=cmd_mixed, table=table_mixed)

    every = sub.add_parser("all", help="every scenario, sized for about 20-30 minutes")
    every.add_argument(
        "--only", default="", help="comma-separated scenarios of the plan to run (default all)"
    )
    every.add_argument("--smoke", action="store_true", help="tiny sizes: does every one run?")
    every.set_defaults(plan=ALL_PLAN, smoke_plan=SMOKE_PLAN)

    rows = sub.add_parser("rows", help="database rows written per message, by room size")
    rows.add_argument("--sizes", type=int_list, default=[2, 50, 500, 2000])
    rows.add_argument("--messages", type=int, default=20, help="messages per size")
    rows.set_defaults(func=cmd_rows, table=table_rows)
