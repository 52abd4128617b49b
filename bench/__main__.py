"""``python -m bench [ledger]``: run the benchmarks, print a table, write JSON."""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import ledger_scale


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suite", nargs="?", default="ledger", choices=["ledger"])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="ledger sizes to measure, comma-separated"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results"), help="where to write the JSON results"
    )
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    print(f"ledger scale on SQLite: {', '.join(f'{s:,}' for s in sizes)} requests")
    with tempfile.TemporaryDirectory() as tmp:
        rows = ledger_scale.run(Path(tmp), sizes)
    base = rows[0]
    header = (
        f"{'requests':>10} {'pending ms':>11} {'raw SQL ms':>11} {'view/raw':>9} "
        f"{'growth':>7} {'GRO only':>9} {'score 30d ms':>13} {'score all ms':>13}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['requests']:>10,} {r['pending_ms']:>11.2f} {r['pending_raw_sql_ms']:>11.2f} "
            f"{r['pending_ms'] / r['pending_raw_sql_ms']:>9.1f} "
            f"{r['pending_ms'] / base['pending_ms']:>7.2f} {r['pending_state_filter_ms']:>9.2f} "
            f"{r['scorecard_30_days_ms']:>13.1f} {r['scorecard_all_time_ms']:>13.1f}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"ledger-scale-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "when": stamp,
                "machine": platform.platform(),
                "processor_count": __import__("os").cpu_count(),
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
