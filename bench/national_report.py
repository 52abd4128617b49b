"""The national suite's table: what the year carried, what the ledger holds, the hub's memory,
and every staff view's median time on that ledger."""

from __future__ import annotations

from typing import Any

MIB = 1024


def table(r: dict[str, Any]) -> None:
    s, led = r["settings"], r["ledger"]
    print(
        f"\nnational year: {s['days']} days from {s['start'][:10]}, {s['states']} states x 3 "
        f"agencies, {s['shelters']} shelters, {s['people']:,} protected people at the start, "
        f"{s['intake_per_week'][0]} to {s['intake_per_week'][1]} new cases a week; sweeper "
        f"every {s['sweep_hours']:g} simulated hours; profiles {r['profiles']}"
    )
    gen = r["generated"]
    dead = ", ".join(f"{k} {v}" for k, v in led["dead_letters"].items()) or "none"
    lines = [
        ("messages generated / published", f"{gen['messages']:,} / {r['published']:,}"),
        ("requests generated / recorded", f"{gen['requests']:,} / {led['requests']:,}"),
        ("messages recorded (ledger)", f"{led['messages']:,}"),
        (
            "escalation rungs (sent / recorded)",
            f"{r['escalations_sent']:,} / {led['escalations']:,}",
        ),
        ("dead letters by reason", dead),
        ("wall time, msg/s published", f"{r['wall_s']:,.1f} s, {r['msg_per_s']:,.1f} msg/s"),
        ("where the time went", ", ".join(f"{k} {v} s" for k, v in r["seconds_in"].items())),
        (
            "hub RSS after warm-up / end / peak",
            f"{r['rss_start_kib'] / MIB:.1f} / {r['rss_end_kib'] / MIB:.1f} / "
            f"{r['rss_peak_kib'] / MIB:.1f} MiB",
        ),
        ("ledger on disk", f"{r['ledger_bytes']:,} B"),
        (
            "JetStream stream",
            f"{r['jetstream']['messages']:,} msgs, {r['jetstream']['bytes']:,} B",
        ),
    ]
    for name, value in lines:
        print(f"  {name:<38} {value}")
    print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in led["rows_per_table"].items()))
    print(f"\n  {'view':<40} {'median ms':>10} {'lines':>7}")
    for v in r["views"]:
        lines_out = "" if v["lines"] is None else f"{v['lines']:,}"
        print(f"  {v['view']:<40} {v['median_ms']:>10.2f} {lines_out:>7}")
