"""``python -m bench [all|throughput|ledger|memory|national] [--quick]``: run the benchmarks against
their baselines measured in the same run, print tables and targets, write JSON."""

from __future__ import annotations

import argparse
import signal
import tempfile
from pathlib import Path
from typing import Any

from bench import ledger_scale, memory, national, national_report, report, throughput
from bench.backends import DEFAULT_POSTGRES

QUICK = {"messages": 300, "repeat": 1, "rate_seconds": 1.0, "sizes": "1000,3000"}
QUICK_HUB_MESSAGES, QUICK_WARMUP = 3000, 500
QUICK_DAYS = 14  # the national suite's smoke run: two simulated weeks


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "suite",
        nargs="?",
        default="all",
        choices=["all", "throughput", "ledger", "memory", "national"],
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--messages", type=int, default=20_000, help="per saturation run")
    parser.add_argument("--repeat", type=int, default=3, help="saturation runs per row")
    parser.add_argument("--window", type=int, default=256, help="publishes in flight")
    parser.add_argument("--rate", type=float, default=200.0, help="msg/s for the latency runs")
    parser.add_argument("--rate-seconds", type=float, default=15.0)
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="ledger sizes to measure, comma-separated"
    )
    parser.add_argument(
        "--hub-messages",
        type=int,
        default=None,
        help="requests fed to the hub for its memory (default 1,000,000; 100,000 under 'all')",
    )
    parser.add_argument("--warmup", type=int, default=10_000, help="before the first RSS reading")
    parser.add_argument("--days", type=int, default=365, help="the national suite's simulated days")
    parser.add_argument(
        "--sweep-hours",
        type=float,
        default=12.0,
        help="the national suite: simulated hours between two runs of the deadline sweeper",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one extra mechbus saturation run with pyinstrument (not counted)",
    )
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES,
        metavar="URL",
        help="the PostgreSQL server where the throughput and ledger suites make (and drop) a "
        "database of their own for their PostgreSQL rows; 'off' for SQLite only",
    )
    parser.add_argument(
        "--postgres-national",
        default="off",
        metavar="URL",
        help="the national suite's ledger on PostgreSQL: the server where it makes (and drops) "
        "a database of its own; 'off' (the default) for SQLite",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results"), help="where to write the JSON results"
    )
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
        args.hub_messages, args.warmup = QUICK_HUB_MESSAGES, QUICK_WARMUP
        args.days = min(args.days, QUICK_DAYS)
    if args.hub_messages is None:
        args.hub_messages = 100_000 if args.suite == "all" else 1_000_000
    return args


def main(argv: list[str] | None = None) -> Path:
    """Run the chosen suites; returns the JSON file written."""
    args = parse(argv)
    # SIGTERM (a timeout, a CI job cancelled) unwinds like Ctrl-C, so the PostgreSQL database
    # made for the run is dropped and the nats-servers stopped on the way out.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _main(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _main(args: argparse.Namespace) -> Path:
    # Read at the start: the code this process imported, not what is on disk by the end.
    code = report.code_version()
    load = {"start": report.load_average()}
    print(f"mechbus at {code}; load average {_load(load['start'])}", flush=True)
    chosen = ("throughput", "ledger", "memory") if args.suite == "all" else (args.suite,)
    suites: dict[str, Any] = {}
    if "throughput" in chosen:
        settings = throughput.Settings(
            args.messages,
            args.repeat,
            args.window,
            args.rate,
            args.rate_seconds,
            args.out if args.profile else None,
            None if args.postgres == "off" else args.postgres,
        )
        suites["throughput"] = throughput.run(settings)
        report.throughput_table(suites["throughput"])
    if "ledger" in chosen:
        sizes = tuple(int(s) for s in args.sizes.split(","))
        print(f"\nledger scale: {', '.join(f'{s:,}' for s in sizes)} requests")
        postgres = None if args.postgres == "off" else args.postgres
        with tempfile.TemporaryDirectory() as tmp:
            suites["ledger"] = ledger_scale.run(Path(tmp), sizes, postgres)
        report.ledger_table(suites["ledger"])
    if "memory" in chosen:
        print(f"\nhub memory: feeding {args.hub_messages:,} requests to a hub process")
        suites["memory"] = memory.run(args.hub_messages, args.warmup, args.window)
        report.memory_table(suites["memory"])
    if "national" in chosen:  # not under "all": a simulated year takes a quarter of an hour
        on = "SQLite" if args.postgres_national == "off" else "PostgreSQL"
        print(f"\nnational scale: {args.days} simulated days through the hub, on {on}")
        settings = national.Settings(
            days=args.days,
            sweep_hours=args.sweep_hours,
            postgres=None if args.postgres_national == "off" else args.postgres_national,
        )
        suites["national"] = national.run(settings)
        national_report.table(suites["national"])
    found = report.targets(suites)
    report.targets_table(found)
    load["end"] = report.load_average()
    print(f"load average at the start {_load(load['start'])}, at the end {_load(load['end'])}")
    path = report.write(args.out, args.suite, suites, found, code, load)
    print(f"wrote {path}")
    return path


def _load(figures: list[float]) -> str:
    return " ".join(f"{x:.2f}" for x in figures)


if __name__ == "__main__":
    main()
