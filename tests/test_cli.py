"""The command line in this process (Typer's runner): help, the checks of its arguments, the
views' rows as tables, JSON and CSV, paging, and what is refused before anything is sent."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.cli import app
from tests.cli_processes import MECHBUS, env_of, filled_ledger, invoke


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["demo"],
        ["up"],
        ["send"],
        ["send", "investigation"],
        ["requests"],
        ["schemas", "export"],
    ],
)
def test_help_everywhere(args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_schemas_export(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schemas", "export", str(tmp_path / "contract")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "contract" / "mech.request.protection_measure.v1.schema.json").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["report", "--month", "2026-13"], "is not a month"),
        (["scorecard", "--sort", "shoe_size"], "--sort must be one of"),
        (["pending", "--json", "--csv"], "choose one of --json and --csv"),
    ],
)
def test_view_arguments_are_checked(tmp_path: Path, args: list[str], words: str) -> None:
    result = invoke(["--lang", "en", *args], tmp_path)
    assert result.exit_code == 2 and words in result.stdout


def test_send_refuses_bad_input_before_publishing(tmp_path: Path) -> None:
    result = invoke(
        [
            "send",
            "protection-measure",
            "--to",
            "gro.police",
            "--case",
            "X1",
            "--state",
            "GRO",
            "--measure",
            "perimeter_patrol",
            "--instructions",
            "x",
            "--nats-url",
            "nats://127.0.0.1:9",
        ],
        tmp_path,
    )
    assert result.exit_code == 2
    assert "unknown agency 'gro.police'" in result.stdout
    assert "subject" in result.stdout  # the case reference pattern, too


def test_bad_board_and_policy_input(tmp_path: Path) -> None:
    naive = invoke(
        [
            *("--lang", "en"),
            "board",
            "schedule",
            "JG-1",
            "--at",
            "2030-04-15T10:00",
            "--venue",
            "x",
            "--nats-url",
            "nats://127.0.0.1:9",
        ],
        tmp_path,
    )
    assert naive.exit_code == 2 and "give a time zone" in naive.stdout
    bad = tmp_path / "policy.toml"
    bad.write_text("[clocks.acknowledgement]\nurgent = 'soon'\n")
    refused = invoke(["--lang", "en", "up", "--policy", str(bad)], tmp_path / "home")
    assert refused.exit_code == 2 and "bad deadline policy" in refused.stdout


def test_creds_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert invoke(["creds", "list"], home).exit_code == 2  # no store yet
    assert invoke(["creds", "init"], home).exit_code == 0
    issued = invoke(["creds", "issue", "gro.government"], home)
    assert issued.exit_code == 0 and "gro.government.nk" in issued.stdout
    listed = invoke(["creds", "list"], home).stdout
    assert "fed.hub" in listed and "gro.government  U" in listed
    assert invoke(["creds", "issue", "gro.police"], home).exit_code == 2
    assert invoke(["creds", "revoke", "gro.government"], home).exit_code == 0
    assert "gro.government" not in invoke(["creds", "list"], home).stdout
    assert not (home / "creds" / "gro.government.nk").exists()


def test_agency_run_needs_credentials(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert invoke(["creds", "issue", "gro.government"], home).exit_code == 0
    refused = invoke(["agency", "run", "--as", "ver.government", "--nats-url", "nats://x:9"], home)
    assert refused.exit_code == 2 and "mechbus creds issue ver.government" in refused.stdout


@pytest.mark.e2e
@pytest.mark.parametrize("columns", [None, "40"])
def test_messages_for_scripts_are_never_wrapped(tmp_path: Path, columns: str | None) -> None:
    deep = tmp_path / ("un-directorio-con-un-nombre-muy-largo-" * 4) / "politica"
    deep.mkdir(parents=True)
    policy = deep / "policy.toml"
    policy.write_text("[clocks.acknowledgement]\nurgent = 'soon'\n")
    env = env_of(tmp_path / "home")
    if columns:
        env["COLUMNS"] = columns
    refused = subprocess.run(
        [*MECHBUS, "up", "--policy", str(policy)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    [line] = [line for line in refused.stdout.splitlines() if "política de plazos" in line]
    assert str(policy) in line  # one line, the path whole
    runner = CliRunner(env={"COLUMNS": columns} if columns else None)
    again = runner.invoke(app, ["up", "--policy", str(policy), "--home", str(tmp_path / "h")])
    assert again.exit_code == 2
    assert str(policy) in again.output.splitlines()[0]


PAGED_VIEWS = [
    (["dlq", "list"], 7),
    (["requests"], 9),  # seven requests, and the relocation to two shelters
    (["pending"], 8),  # six unanswered requests, and the relocation
    (["commitments"], 7),
    (["case", "MPDDHP-2026-0412"], 7),
    (["agenda", "MPDDHP-2026-0412"], 13),
    (["outbox", "list"], 7),
    (["shelters"], 3),  # two reported, and shelter.casa-norte listed with no report
    (["placements"], 2),
    (["scorecard"], 3),  # Guerrero, and the shelters' states
    (["board", "agenda"], 0),
]


@pytest.mark.parametrize(
    ("view", "total"), PAGED_VIEWS, ids=lambda v: " ".join(v) if isinstance(v, list) else str(v)
)
def test_every_list_view_pages_and_says_when_it_is_cut(
    tmp_path: Path, view: list[str], total: int
) -> None:
    url = filled_ledger(tmp_path / "ledger.db")
    runner = CliRunner()

    def show(*args: str) -> tuple[list[dict[str, Any]], str]:
        result = runner.invoke(app, ["--lang", "en", *view, *args, "--json", "--ledger-url", url])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        for row in rows:  # computed from the clock at each call
            row.pop("overdue_hours", None)
        return rows, result.stderr

    everything, note = show("--all")
    assert len(everything) == total and note == ""
    assert show() == (everything, "")  # fewer rows than a page: all of them, nothing said
    if total < 2:
        return
    first, note = show("--limit", "1")
    assert first == everything[:1]
    assert "rows 1-1 shown and more follow: --offset 1 for the next page, or --all" in note
    rest, note = show("--limit", str(total), "--offset", "1")
    assert rest == everything[1:] and note == ""
    table = runner.invoke(app, [*view, "--limit", "1", "--ledger-url", url])
    assert "y hay más: --offset 1" in table.stdout  # under the table, in Spanish by default


def test_a_cut_csv_stays_parseable(tmp_path: Path) -> None:
    url = filled_ledger(tmp_path / "ledger.db")
    result = CliRunner().invoke(app, ["dlq", "list", "--csv", "--limit", "3", "--ledger-url", url])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Número,Recibido,Remitente") and len(lines) == 4
    assert "y hay más" in result.stderr
