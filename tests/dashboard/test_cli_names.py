"""The command line's tables and CSV files name institutions, in Spanish and in English;
``--json`` keeps each agency id and adds its name beside it (on the demo's ledger, which
the dashboard's tests share)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from schemas.registry import active_registry
from tests.cli_processes import invoke, recorded_month
from tests.dashboard.test_names import agency_ids

VIEWS = [
    ["requests", "--all"],
    ["pending", "--all"],
    ["commitments", "--all"],
    ["case", "MPDDHP-2026-0412", "--all"],
    ["case", "MPDDHP-2026-0401", "--all"],
    ["agenda", "MPDDHP-2026-0412"],
    ["board", "agenda"],
    ["shelters"],
    ["placements"],
]


@pytest.fixture
def home(demo_copy: Path, tmp_path: Path) -> Path:
    copied = tmp_path / "home"
    shutil.copytree(demo_copy, copied)
    return copied


@pytest.mark.e2e
@pytest.mark.parametrize("lang", ["es", "en"])
def test_tables_and_csv_files_name_institutions(lang: str, home: Path) -> None:
    for view in VIEWS:
        as_csv = [] if view[0] == "requests" else ["--csv"]  # requests: a table only
        for shape in ([], as_csv):
            done = invoke(["--lang", lang, *view, *shape], home)
            assert done.exit_code == 0, (view, done.output)
            assert done.stdout.strip(), view
            assert agency_ids(done.stdout) == set(), (view, shape, done.stdout[:600])


@pytest.mark.e2e
def test_json_keeps_the_id_and_adds_the_name(home: Path) -> None:
    registry = active_registry()
    keyed = {
        ("pending",): "agency",
        ("commitments",): "agency",
        ("case", "MPDDHP-2026-0401"): "to",
        ("agenda", "MPDDHP-2026-0412"): "agency",
        ("board", "agenda"): "institution",
        ("placements",): "shelter",
        ("shelters",): "shelter",
    }
    for view, key in keyed.items():
        done = invoke([*view, "--all", "--json"], home)
        assert done.exit_code == 0, (view, done.output)
        rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        assert rows, view
        for row in rows:
            assert row[key] in registry, (view, row)
            assert row[f"{key}_name"] == registry[row[key]].name, (view, row)
    timeline = invoke(["case", "MPDDHP-2026-0401", "--all", "--json"], home)
    kinds = {json.loads(line)["message"] for line in timeline.stdout.splitlines()}
    assert "tracking.escalated" in kinds  # programs keep the kind's code


@pytest.mark.e2e
def test_the_monthly_report_names_institutions(home: Path, tmp_path: Path) -> None:
    # the month the session's demo was played in (Tamaulipas's case), perhaps the one before
    month = recorded_month("MPDDHP-2026-0401", home)
    done = invoke(["report", "--month", month, "--out", str(tmp_path / "out")], home)
    assert done.exit_code == 0, done.output
    report = (tmp_path / "out" / f"report-{month}.md").read_text("utf-8")
    assert "Secretaría General de Gobierno del Estado de Tamaulipas" in report
    assert agency_ids(report) == set()
