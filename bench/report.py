"""Tables, targets (PASS/MISS with the measured ratio) and the JSON file of one run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MIB = 1024


def throughput_table(result: dict[str, Any]) -> None:
    s = result["settings"]
    rows = {r["row"]: r for r in result["rows"]}
    a, b = rows["A"], rows["B"]
    limits = {r["backend"]: r for r in result.get("ledger_limit", [])}
    heading = (
        f"throughput: {s['messages']:,} patrol requests ({result['body_bytes']} B) per run, "
        f"{s['window']} publishes in flight, median of {s['repeat']} runs; every measurement on "
        f"a fresh nats-server (file store, sync_interval: always); {result['process']}."
    )
    print("\n" + textwrap.fill(heading, 100))
    print(
        f"{'':32} | {'saturation':^40} | {'drain':^29}\n"
        f"{'row':32} | {'msg/s':>8} {'x A':>6} {'x B':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"| {'msg/s':>8} {'x A':>6} {'x B':>6} {'x L':>6}"
    )
    for r in result["rows"]:
        sat, drain = r["msg_per_s"], r["drain_msg_per_s"]
        x_l = r.get("drain_x", {}).get("L")
        print(
            f"{r['label']:32} | {sat:>8,.0f} {sat / a['msg_per_s']:>6.2f} "
            f"{sat / b['msg_per_s']:>6.2f} {r['saturation_p50_ms']:>8.1f} "
            f"{r['saturation_p99_ms']:>8.1f} | {drain:>8,.0f} "
            f"{drain / a['drain_msg_per_s']:>6.2f} {drain / b['drain_msg_per_s']:>6.2f} "
            f"{'-' if x_l is None else format(x_l, '.2f'):>6}"
        )
    for limit in limits.values():
        print(
            f"{limit['label']:32} | {'':40} | {limit['msg_per_s']:>8,.0f} "
            f"{limit['msg_per_s'] / a['drain_msg_per_s']:>6.2f} "
            f"{limit['msg_per_s'] / b['drain_msg_per_s']:>6.2f} {1:>6.2f}"
        )
    postgres = result.get("postgres", {})
    if postgres.get("skipped"):
        print(f"  PostgreSQL rows skipped: {postgres['skipped']}")
    print(
        f"\nlatency at {s['rate']:g} msg/s for {s['rate_seconds']:g} s, publish call to the end "
        f"(median of {s['repeat']} runs):"
    )
    print(f"{'row':32} | {'p50 ms':>8} {'p99 ms':>8} {'p50 x A':>8} {'p99 x A':>8} {'p99 x B':>8}")

    def latency(label: str, p50: float, p99: float) -> None:
        print(
            f"{label:32} | {p50:>8.2f} {p99:>8.2f} {p50 / a['rate']['p50_ms']:>8.2f} "
            f"{p99 / a['rate']['p99_ms']:>8.2f} {p99 / b['rate']['p99_ms']:>8.2f}"
        )

    for r in result["rows"]:
        latency(r["label"], r["rate"]["p50_ms"], r["rate"]["p99_ms"])
    for limit in limits.values():
        if "floor_p99_ms" in limit:
            label = "L1 one per commit, " + limit["backend"]
            latency(label, limit["floor_p50_ms"], limit["floor_p99_ms"])
    for note in result["notes"]:
        print(textwrap.fill(note, 100, initial_indent="  ", subsequent_indent="    "))
    for limit in limits.values():
        tables = ", ".join(f"{n:,} {t}" for t, n in limit["rows_per_table"].items())
        line = f"L on {limit['backend']}: inserted {tables}, in batches of {limit['batch']}"
        print(textwrap.fill(line, 100, initial_indent="  ", subsequent_indent="    "))
    for r in result["rows"]:
        for mode, runs in r.get("hub", {}).items():
            for stats in runs[:1]:
                line = (
                    f"{r['row']} hub, {mode} run 1: {stats['batches']:,} batches of "
                    f"{stats['mean_batch']:.0f}, {stats['commit_share']:.0%} of the run inside "
                    f"Hub._commit; a commit took {stats['commit_ms_mean']:.1f} ms on average, "
                    f"p99 {stats['commit_ms_p99']:.1f} ms, at most "
                    f"{stats['commit_ms_max']:.1f} ms ({stats['commit_ms_per_message']:.2f} ms "
                    f"a message)"
                )
                print(textwrap.fill(line, 100, initial_indent="  ", subsequent_indent="    "))


def ledger_table(rows: list[dict[str, Any]]) -> None:
    print("\nledger scale (medians):")
    print(
        f"{'backend':<10} {'requests':>10} {'pending ms':>11} {'raw SQL ms':>11} {'view/raw':>9} "
        f"{'growth':>7} {'GRO only':>9} {'score 30d ms':>13} {'score all ms':>13} "
        f"{'report this ms':>15} {'report last ms':>15}"
    )
    first: dict[str, dict[str, Any]] = {}
    for r in rows:
        base = first.setdefault(r.get("backend", "sqlite"), r)
        print(
            f"{r.get('backend', 'sqlite'):<10} "
            f"{r['requests']:>10,} {r['pending_ms']:>11.2f} {r['pending_raw_sql_ms']:>11.2f} "
            f"{r['pending_ms'] / r['pending_raw_sql_ms']:>9.1f} "
            f"{r['pending_ms'] / base['pending_ms']:>7.2f} {r['pending_state_filter_ms']:>9.2f} "
            f"{r['scorecard_30_days_ms']:>13.1f} {r['scorecard_all_time_ms']:>13.1f} "
            f"{r['report_this_month_ms']:>15.1f} {r['report_last_month_ms']:>15.1f}"
        )


COUNTED = ("objects", "pymalloc_arenas")  # numbers of things; the other heap figures are bytes


def _heap_grown(start: dict[str, Any], end: dict[str, Any]) -> str:
    """Each figure of the heap's make-up (bench.heap_report) at the two readings."""
    lines = []
    for name, before in start.items():
        if name == "kinds":
            continue
        after = end.get(name, 0)
        if name in COUNTED:
            lines.append(f"  {name}: {before:,} -> {after:,}\n")
        else:
            lines.append(f"  {name}: {before / 2**20:.1f} -> {after / 2**20:.1f} MiB\n")
    return "".join(lines)


def _kinds_grown(start: dict[str, Any], end: dict[str, Any]) -> str:
    """The kinds of objects that grew most in number between the two readings."""
    before, after = start.get("kinds", {}), end.get("kinds", {})
    grown = sorted(((after[k] - before.get(k, 0), k) for k in after), reverse=True)[:6]
    return "".join(f"  {kind}: {after[kind] - n:,} -> {after[kind]:,}\n" for n, kind in grown)


def memory_table(m: dict[str, Any]) -> None:
    print(
        f"\nhub memory: {m['hub']}, fed {m['messages']:,} requests:\n"
        f"  RSS after a warm-up of {m['warmup']:,}: {m['rss_start_kib'] / MIB:.1f} MiB; "
        f"at the end: {m['rss_end_kib'] / MIB:.1f} MiB ({m['growth_pct']:+.1f} %); "
        f"peak {m['rss_peak_kib'] / MIB:.1f} MiB\n"
        + "".join(
            f"  {part}: {m['rss_parts_start_kib'][part] / MIB:.1f} -> "
            f"{m['rss_parts_end_kib'][part] / MIB:.1f} MiB\n"
            for part in m.get("rss_parts_start_kib", {})
        )
        + _heap_grown(m.get("heap_start", {}), m.get("heap_end", {}))
        + _kinds_grown(m.get("heap_start", {}), m.get("heap_end", {}))
        + f"  hub recorded {m['after_warmup_per_s']:,.0f} msg/s after the warm-up "
        f"(fed at the same time); ledger {m['ledger_mib']:,.0f} MiB"
    )


def _target(name: str, measured: str, ok: bool | None) -> dict[str, Any]:
    """``ok`` None: not measured in this run (``measured`` says why)."""
    return {"target": name, "measured": measured, "pass": ok}


def _backend_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per ledger backend: the drain against A (and L on SQLite), p99 at the fixed rate."""
    rows = {r["row"]: r for r in result["rows"]}
    a = rows["A"]
    limits = {r["backend"]: r for r in result.get("ledger_limit", [])}
    rate = format(result["settings"]["rate"], "g")
    found = []
    for title, row_name in (("SQLite", "mechbus"), ("PostgreSQL", "mechbus-postgresql")):
        drain_name = (
            "mechbus drain >= 0.5 x A and >= 0.7 x L (SQLite)"
            if title == "SQLite"
            else f"mechbus drain >= 0.5 x A ({title})"
        )
        p99_name = f"mechbus p99 at {rate} msg/s <= 3 x A ({title})"
        mech = rows.get(row_name)
        if mech is None:
            why = f"not measured: {result.get('postgres', {}).get('skipped')}"
            found += [_target(drain_name, why, None), _target(p99_name, why, None)]
            continue
        x = mech["drain_x"]
        if title == "SQLite":
            measured = f"{x['A']:.2f} x A, {x['L']:.2f} x L"
            ok = x["A"] >= 0.5 and x["L"] >= 0.7
        else:
            measured = f"{x['A']:.2f} x A ({x['L']:.2f} x L)"
            ok = x["A"] >= 0.5
        found.append(_target(drain_name, measured, ok))
        p99 = mech["rate"]["p99_ms"] / a["rate"]["p99_ms"]
        measured = f"{p99:.2f} x A ({mech['rate']['p99_ms']:.1f} ms)"
        floor = limits.get(mech["backend"], {}).get("floor_p99_ms")
        if floor:  # what the disk alone takes for a lone request's rows
            measured += f"; L1 {floor:.1f} ms = {floor / a['rate']['p99_ms']:.2f} x A"
        found.append(_target(p99_name, measured, p99 <= 3))
    return found


def targets(suites: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    if "throughput" in suites:
        rows = {r["row"]: r for r in suites["throughput"]["rows"]}
        mech, a, b = rows["mechbus"], rows["A"], rows["B"]
        x_a = mech["msg_per_s"] / a["msg_per_s"]
        x_b = mech["msg_per_s"] / b["msg_per_s"]
        found += [
            _target("mechbus throughput >= 0.6 x A", f"{x_a:.2f} x A", x_a >= 0.6),
            _target("mechbus throughput >= 2 x B", f"{x_b:.2f} x B", x_b >= 2),
        ]
        found += _backend_targets(suites["throughput"])
    if "ledger" in suites:
        found += _ledger_targets(suites["ledger"])
    if "memory" in suites:
        m = suites["memory"]
        over = "" if m["messages"] == 1_000_000 else f" (over {m['messages']:,}, not 1M)"
        found.append(
            _target(
                "hub RSS growth < 10 % over 1M messages",
                f"{m['growth_pct']:+.1f} %{over}",
                m["growth_pct"] < 10,
            )
        )
    return found


LEDGER_TARGETS = (
    ("pending", "pending_ms", 50),
    ("scorecard 30 days", "scorecard_30_days_ms", 200),
    ("scorecard all time", "scorecard_all_time_ms", 200),
    ("report this month", "report_this_month_ms", 200),
    ("report last month", "report_last_month_ms", 200),
)


def _ledger_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each view under its limit at the largest size measured, on each backend."""
    last: dict[str, dict[str, Any]] = {}
    for r in rows:
        last[r.get("backend", "sqlite")] = r
    found = []
    for backend, r in last.items():
        at = "" if r["requests"] == 1_000_000 else f" (measured at {r['requests']:,})"
        for title, key, limit in LEDGER_TARGETS:
            found.append(
                _target(
                    f"{title} < {limit} ms at 1M requests ({backend})",
                    f"{r[key]:.2f} ms{at}",
                    r[key] < limit,
                )
            )
    return found


def targets_table(found: list[dict[str, Any]]) -> None:
    print("\ntargets:")
    for t in found:
        verdict = {True: "PASS", False: "MISS", None: "SKIP"}[t["pass"]]
        print(f"  {verdict}  {t['target']:<62} measured {t['measured']}")


def load_average() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages: how quiet it was while measured."""
    return [round(x, 2) for x in os.getloadavg()]


def code_version() -> str:
    """The commit measured (others commit while a long run goes on: say which code it was),
    with "+changes" when the working tree differs from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+changes" if dirty else "")


def write(
    out: Path,
    suite: str,
    suites: dict[str, Any],
    found: list[dict[str, Any]],
    code: str,
    load: dict[str, list[float]],
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"bench-{suite}-{stamp}.json"
    document = {
        "when": stamp,
        "machine": platform.platform(),
        "processor_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": load,
        "code": code,
        "suites": suites,
        "targets": found,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
