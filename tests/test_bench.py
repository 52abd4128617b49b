"""Smoke test of the benchmark harness: ``python -m bench throughput --quick`` runs end to end
against real nats-servers and writes every row; timings are not asserted (shared machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main

pytestmark = pytest.mark.integration


@pytest.mark.timeout(300)
def test_quick_throughput_writes_every_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = main(["throughput", "--quick", "--out", str(tmp_path)])

    document = json.loads(path.read_text())
    suite = document["suites"]["throughput"]
    rows = {row["row"]: row for row in suite["rows"]}
    assert set(rows) == {"A", "B", "mechbus"}
    for row in rows.values():
        assert row["msg_per_s"] > 0 and row["drain_msg_per_s"] > 0
        assert row["saturation_p50_ms"] > 0 and row["saturation_p99_ms"] > 0
        assert [run["messages"] for run in row["runs"]] == [suite["settings"]["messages"]]
        assert row["rate"]["messages"] > 0
        assert row["rate"]["p50_ms"] > 0 and row["rate"]["p99_ms"] > 0
    assert rows["mechbus"]["hub"]["saturation"][0]["batches"] > 0
    assert {t["target"] for t in document["targets"]} >= {"mechbus throughput >= 2 x B"}
    printed = capsys.readouterr().out
    assert "drain" in printed and "targets:" in printed
