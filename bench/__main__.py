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


def cmd_datascale(args: argparse.Namespace) -> list[dict]:
    from bench import datascale

    stamp, rows = datascale.run(args)
    # The report's JSON keeps what was generated; its table heads with it.
    args.data = stamp
    args.table = lambda rows: datascale.table(stamp, rows)
    return rows


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


def write_report(out: Path, scenario: str, args: dict, rows: list[dict], text: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = {
        "scenario": scenario,
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0]},
        "args": {k: v for k, v in args.items() if k not in ("out", "func", "table")},
        "rows": rows,
    }
    (out / f"{scenario}-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    (out / f"{scenario}-{stamp}.md").write_text(text + "\n")
    print()
    print(text)


def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def add_scenarios(sub) -> None:
    """The scenarios of bench/scenarios.py: idle, storm, rows, mixed."""
    from bench import scenarios

    scenarios.add_parsers(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    sub = parser.add_subparsers(dest="scenario", required=True)
    fan = sub.add_parser("fanout", help="one room of N members, all online")
    fan.add_argument("--sizes", type=int_list, default=[2, 50, 500, 2000])
    fan.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    fan.add_argument("--processes", type=int, default=1, help="server processes (ours)")
    fan.add_argument("--paced", type=int, default=40, help="messages sent at --rate")
    fan.add_argument("--rate", type=float, default=20.0, help="paced messages per second")
    fan.add_argument("--burst", type=int, default=100, help="messages sent back to back")
    fan.add_argument("--workers", type=int, default=2, help="receiver processes")
    fan.add_argument("--timeout", type=float, default=120.0, help="seconds per run, at most")
    fan.add_argument("--no-baseline", dest="baseline", action="store_false")
    fan.set_defaults(func=cmd_fanout, table=table)
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
    scale.set_defaults(func=cmd_datascale)
    add_scenarios(sub)
    return parser


def run_all(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Every scenario of the plan in turn; one failing does not stop the others."""
    only = {name for name in args.only.split(",") if name}
    texts, failed = [], []
    for plan in args.smoke_plan if args.smoke else args.plan:
        if only and plan[0] not in only:
            continue
        sub_args = parser.parse_args(["--out", str(args.out), *plan])
        print(f"== python -m bench {' '.join(plan)}", flush=True)
        try:
            rows = sub_args.func(sub_args)
        except Exception as error:
            failed.append(plan[0])
            texts.append(f"## {' '.join(plan)}\n\nFAILED: {error!r}")
            print(f"FAILED: {error!r}", flush=True)
            continue
        text = sub_args.table(rows)
        write_report(args.out, sub_args.scenario, vars(sub_args), rows, text)
        texts.append(f"## {' '.join(plan)}\n\n{text}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"all-{stamp}.md").write_text("\n\n".join(texts) + "\n")
    print(f"\nwrote {args.out / f'all-{stamp}.md'}; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.scenario == "all":
        return run_all(parser, args)
    rows = args.func(args)
    write_report(args.out, args.scenario, vars(args), rows, args.table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
