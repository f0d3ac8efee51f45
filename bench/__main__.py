"""python -m bench: run the benchmark scenarios and write JSON plus a readable table."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from bench import env


def progress(line: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {line}", flush=True)


def cmd_fanout(args: argparse.Namespace) -> list[dict]:
    from bench.fanout import run_fanout

    env.ensure_database()
    env.setup_django()
    rows = []
    for size in args.sizes:
        targets = [("ours", args.server)]
        if args.baseline:
            targets.append(("socketio", "socketio"))
        for protocol_name, server_kind in targets:
            print(f"fan-out: {size} members, {protocol_name} on {server_kind}", flush=True)
            row = run_fanout(
                protocol_name=protocol_name,
                server_kind=server_kind,
                processes=args.processes if protocol_name == "ours" else 1,
                size=size,
                paced=args.paced,
                rate=args.rate,
                burst=args.burst,
                workers=args.workers,
                timeout=args.timeout,
                progress=progress,
            )
            rows.append(row)
            progress(
                f"{row['burst_deliveries_per_s']:.0f} deliveries/s, "
                f"last delivery p99 {row['last_delivery_ms_p99']:.1f} ms, lost {row['lost']}"
            )
    return rows


def cmd_datascale(args: argparse.Namespace) -> int:
    from bench import datascale

    stamp, rows = datascale.run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"datascale-{args.messages}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    report = {
        "scenario": "datascale",
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0]},
        "args": {k: v for k, v in vars(args).items() if k != "out"},
        "data": stamp,
        "rows": rows,
    }
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2, default=str))
    text = datascale.table(stamp, rows)
    (args.out / f"{name}.md").write_text(text + "\n")
    print()
    print(text)
    return 0


def table(rows: list[dict]) -> str:
    columns = [
        ("members", "members", "{}"),
        ("protocol", "transport", "{}"),
        ("server", "server", "{}"),
        ("burst_deliveries_per_s", "deliveries/s", "{:.0f}"),
        ("ack_ms_p50", "ack p50 ms", "{:.1f}"),
        ("ack_ms_p99", "ack p99 ms", "{:.1f}"),
        ("last_delivery_ms_p50", "last p50 ms", "{:.1f}"),
        ("last_delivery_ms_p99", "last p99 ms", "{:.1f}"),
        ("lost", "lost", "{}"),
    ]
    lines = ["| " + " | ".join(title for _k, title, _f in columns) + " |"]
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        lines.append("| " + " | ".join(fmt.format(row[key]) for key, _t, fmt in columns) + " |")
    baseline = {r["members"]: r for r in rows if r["protocol"] == "socketio"}
    ratios = [
        f"{r['members']} members: {r['burst_deliveries_per_s'] / baseline[r['members']]['burst_deliveries_per_s']:.2f}x"
        for r in rows
        if r["protocol"] == "ours" and r["members"] in baseline
    ]
    if ratios:
        lines.append("")
        lines.append("ours / socket.io deliveries per second: " + ", ".join(ratios))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="scenario", required=True)
    fan = sub.add_parser("fanout", help="one room of N members, all online")
    fan.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[2, 50, 500, 2000]
    )
    fan.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    fan.add_argument("--processes", type=int, default=1, help="server processes (ours)")
    fan.add_argument("--paced", type=int, default=40, help="messages sent at --rate")
    fan.add_argument("--rate", type=float, default=20.0, help="paced messages per second")
    fan.add_argument("--burst", type=int, default=100, help="messages sent back to back")
    fan.add_argument("--workers", type=int, default=2, help="receiver processes")
    fan.add_argument("--timeout", type=float, default=120.0, help="seconds per run, at most")
    fan.add_argument("--no-baseline", dest="baseline", action="store_false")
    scale = sub.add_parser(
        "datascale", help="10M messages in a database of their own; read paths timed"
    )
    scale.add_argument("--messages", type=int, default=10_000_000)
    scale.add_argument("--seed", type=int, default=1)
    scale.add_argument(
        "--regenerate", action="store_true", help="generate again even if the stamp matches"
    )
    scale.add_argument("--generate-only", action="store_true")
    scale.add_argument("--repeat", type=int, default=100, help="calls per read (search: 1/10)")
    scale.add_argument("--budget", type=float, default=20.0, help="seconds per read, at most")
    scale.add_argument("--only", default="", help="comma-separated reads to time")
    scale.add_argument("--no-rest", dest="rest", action="store_false")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args(argv)
    if args.scenario == "datascale":
        return cmd_datascale(args)
    rows = cmd_fanout(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = {
        "scenario": args.scenario,
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0]},
        "args": {k: v for k, v in vars(args).items() if k != "out"},
        "rows": rows,
    }
    (args.out / f"{args.scenario}-{stamp}.json").write_text(
        json.dumps(report, indent=2, default=str)
    )
    text = table(rows)
    (args.out / f"{args.scenario}-{stamp}.md").write_text(text + "\n")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
