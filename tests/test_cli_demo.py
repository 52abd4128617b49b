"""The demo as a user runs it: a real process with its own nats-server, hub, sweeper and stub
agencies, stopped by Ctrl-C or run to the end, leaving nothing behind; then the record it
leaves, read through the views in this process."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli_processes import (
    invoke,
    json_lines,
    launch,
    recorded_month,
    run,
    wait_until_gone,
)

pytestmark = pytest.mark.e2e  # mechbus runs as its own process


@pytest.fixture(scope="module")
def demo_home(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    home = tmp_path_factory.mktemp("demo") / "home"
    return home, run(["--lang", "en", "demo"], home)  # the words the checks below read


def test_demo_runs_to_the_end_and_leaves_nothing(
    demo_home: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    home, result = demo_home
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "acknowledgement of receipt" in out and "delivery receipt" in out  # in words
    assert "compressed clock" in out
    # the rungs in words (a long one wraps in its cell: one word of it)
    for rung in ("reminder", "head", "Board", "monthly"):
        assert rung in out
    assert "JG-2026-12" in out
    # the scenario's outcome: who acknowledged, who escalated, where the people were placed
    for claim in (
        "gro.government acknowledged",
        "gro.prosecutor acknowledged",
        "gro.commission acknowledged",
        "ver.prosecutor declined",
        "tam.government climbed the whole escalation ladder",
        "relocation placed with shelter.casa-refugio-cdmx",
        "gro.government fulfilled its commitments",
        "ver.government partially fulfilled its commitments",
        "the Mechanism met MPDDHP-2026-0412:measures_issued on time",
        "the Mechanism missed MPDDHP-2026-0415:measures_issued (late or overdue)",
        "mic.government committed beyond the legal limit (flagged)",
    ):
        line = next(line for line in out.splitlines() if claim in line)
        assert "yes" in line, line
    assert " NO " not in out
    assert "Ejemplo" not in out + result.stderr  # personal data never printed
    assert (home / "ledger.db").exists() and (home / "nats" / "jetstream").is_dir()
    wait_until_gone(str(home))


TAMAULIPAS = "Secretaría General de Gobierno del Estado de Tamaulipas"


def test_tracking_views_on_the_demo_record(
    demo_home: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    home, _ = demo_home
    pending = json_lines(["pending"], home)
    assert pending[0]["agency"] == "tam.government"  # the most overdue comes first
    assert pending[0]["owes"] == "acknowledgement"
    assert datetime.fromisoformat(str(pending[0]["due"])) < datetime.now(UTC)  # overdue
    assert [p["agency"] for p in json_lines(["pending", "--state", "TAM"], home)] == [
        "tam.government"
    ]
    assert json_lines(["pending", "--state", "VER"], home) == []
    assert len(json_lines(["pending", "--urgency", "urgent", "--kind", "information"], home)) == 1

    # Commitments made were fulfilled, fully or in part (the slow prosecutor's may be open),
    # but for Michoacán's: two weeks for an urgent escort, flagged and chased at the 9 h limit.
    open_ones = {c["agency"]: c for c in json_lines(["commitments"], home)}
    assert set(open_ones) - {"gro.prosecutor"} == {"mic.government"}
    late = open_ones["mic.government"]
    assert late["flag"] == "beyond the legal limit" and late["legal_limit"] < late["due"]
    overdue = json_lines(["commitments", "--overdue"], home)
    assert {c["agency"] for c in overdue} <= {"mic.government"}  # once its limit has passed

    case = json_lines(["case", "MPDDHP-2026-0412"], home)
    kinds = [e["message"] for e in case]
    # the Mechanism's clocks start and its study is delivered; the journalist's consent to invite
    # the commission to the Board is recorded before any request
    first = kinds.index(next(k for k in kinds if k.startswith("request.")))
    assert {"tracking.incorporation_received", "tracking.risk_study_delivered"} <= set(
        kinds[:first]
    )
    assert "tracking.board_consent" in kinds[:first] and "response.acknowledgement" in kinds
    assert "response.commitment_made" in kinds and "response.commitment_fulfilled" in kinds
    assert "request.board_summons" in kinds
    shelters = {s["shelter"]: s for s in json_lines(["shelters"], home)}
    assert shelters["shelter.casa-refugio-cdmx"]["free"] == 1  # 3 free, 2 placed
    assert shelters["shelter.albergue-oaxaca"]["stale"] == ""
    placements = json_lines(["placements"], home)
    assert [(p["shelter"], p["status"], p["people"]) for p in placements] == [
        ("shelter.casa-refugio-cdmx", "arrived", 2)
    ]
    silent_case = json_lines(["case", "MPDDHP-2026-0401"], home)
    assert [e["message"] for e in silent_case] == [
        "tracking.presumed_aggressor",  # its prosecutor, named before anything is sent
        "request.information",
        "response.delivery_receipt",  # the silent agency's client receipts; nobody answers
        "tracking.acknowledgement_overdue",
        "tracking.escalated",
        "tracking.escalated",
        "tracking.escalated",
    ]

    scores = {s["state"]: s for s in json_lines(["scorecard"], home)}
    assert scores["TAM"]["open_overdue"] == 1 and scores["TAM"]["ack_on_time_pct"] == 0.0
    assert scores["GRO"]["received"] == 2  # patrols, investigation (the summons is apart)
    assert scores["GRO"]["summons_attended"] == "0/1"
    # due in a week, but partly fulfilled already: settled, and not kept in full
    assert scores["VER"]["kept_on_time_pct"] == 0.0

    # what may still be open on the journalist's case: the slow prosecutor's answer
    agenda = json_lines(["agenda", "MPDDHP-2026-0412"], home)
    assert all(a["agency"] == "gro.prosecutor" for a in agenda), agenda
    assert len(json_lines(["agenda", "MPDDHP-2026-0401"], home)) == 1  # Tamaulipas owes

    # Tamaulipas on the Board's agenda; its case gave no consent, so nobody is invited. On a
    # slow run the Mechanism's own late obligation may have climbed there too, under its case.
    items = json_lines(["board", "agenda", "--session", "JG-2026-12"], home)
    [item] = [i for i in items if i["institution"] == "tam.government"]
    assert all(i["case"] for i in items), items
    keys = ("session", "case", "state", "institution", "institution_name", "invited")
    assert {k: item[k] for k in keys} == {
        "session": "JG-2026-12",
        "case": "MPDDHP-2026-0401",
        "state": "Tamaulipas",
        "institution": "tam.government",  # programs get the id, and the name beside it
        "institution_name": TAMAULIPAS,
        "invited": None,
    }
    assert item["consent"] is False and item["owes"] == "acknowledgement"
    assert item["overdue_hours"] >= 0 and item["carried_from"] is None  # seconds, compressed
    table = invoke(["--lang", "en", "board", "agenda"], home).stdout
    assert "MPDDHP-2026-0401" in table and "Tamaulipas" in table and "Carried" in table

    csv_out = invoke(["scorecard", "--csv", "--sort", "ack_on_time_pct"], home).stdout.splitlines()
    assert csv_out[0].startswith("Estado,Solicitudes recibidas,Acuse a tiempo")  # Spanish
    assert csv_out[1].startswith("TAM,")  # worst first

    # The Mechanism's own clock that ran out: the defenders' urgent measures, never issued.
    [missed] = json_lines(["federal", "list"], home)
    assert (missed["case"], missed["clock"]) == ("MPDDHP-2026-0415", "measures_issued")
    assert missed["unit"].startswith("Unidad de Recepción") and missed["met"] is None
    assert datetime.fromisoformat(str(missed["due"])) < datetime.now(UTC)  # overdue

    month = recorded_month("MPDDHP-2026-0401", home)  # Tamaulipas's case: the demo's month
    made = invoke(["report", "--month", month, "--out", str(tmp_path)], home)
    assert made.exit_code == 0, made.output
    report = (tmp_path / f"report-{month}.md").read_text()
    assert TAMAULIPAS in report and "tam.government" not in report  # by name
    beyond = report[report.index("## Compromisos fuera del plazo legal") :]
    assert "Secretaría de Gobierno del Estado de Michoacán" in beyond
    assert "(fuera del plazo legal)" in beyond and "Guerrero" not in beyond
    assert (tmp_path / f"scorecard-{month}.svg").read_text().startswith("<svg")


def test_ctrl_c_stops_the_demo_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = launch(["demo"], home)
    assert proc.stdout is not None
    first = ""
    while "embedded nats-server" not in first:  # the server is up; the stubs are starting
        first = proc.stdout.readline()
        assert first, "the demo ended before starting its server"
    url = first.split()[2]
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[0]
    assert proc.returncode in (0, 130), first + rest  # 0 if it had already finished
    assert "Traceback" not in rest
    wait_until_gone(str(home))  # the nats-server
    wait_until_gone(url)  # the stub agencies


def test_demo_on_an_existing_server(tmp_path: Path) -> None:
    from adapters.natsserver.server import EmbeddedNatsServer

    with EmbeddedNatsServer(tmp_path / "their-nats") as server:
        result = run(["--lang", "en", "demo", "--nats-url", server.url], tmp_path / "home")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "embedded nats-server" not in result.stdout
        assert result.stdout.count("accepted") >= 4
        assert server.running
    assert not (tmp_path / "home" / "nats").exists()


SMALL_SCENARIO = (Path(__file__).parent / "data" / "short_scenario.toml").read_text()


def test_demo_plays_a_scenario_file(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SMALL_SCENARIO)
    result = run(["demo", "--scenario", str(scenario)], tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "prueba corta" in result.stdout and " NO " not in result.stdout
    assert "move placed with shelter.albergue-oaxaca" in result.stdout
    partial = json_lines(["case", "MPDDHP-2026-0600"], tmp_path / "home")
    assert "response.commitment_partially_fulfilled" in [e["message"] for e in partial]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (('id = "oax.government"', 'id = "oax.police"'), "unknown agency 'oax.police'"),
        (("capacity = {", "capacidad = {"), "TypeError"),
        (('kind = "investigation"', 'kind = "airlift"'), "unknown kind 'airlift'"),
        (('profile = "declines"', 'profile = "grumpy"'), "invalid choice: 'grumpy'"),
    ],
)
def test_bad_scenarios_are_refused_clearly(
    tmp_path: Path, change: tuple[str, str], words: str
) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SMALL_SCENARIO.replace(*change))
    result = run(["demo", "--scenario", str(scenario)], tmp_path / "home")
    assert result.returncode in (1, 2), result.stdout
    assert words in " ".join(result.stdout.split()), result.stdout  # Rich wraps long lines
    wait_until_gone(str(tmp_path / "home"))


def test_audit_verify_names_the_first_broken_link(
    demo_home: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    import shutil
    import sqlite3

    home, _ = demo_home
    intact = invoke(["--lang", "en", "audit", "verify"], home)
    assert intact.exit_code == 0 and "rows verified, chain intact" in intact.stdout
    copy = tmp_path / "ledger.db"
    shutil.copy(home / "ledger.db", copy)
    with sqlite3.connect(copy) as db:  # an insider makes Tamaulipas look like it answered
        db.execute("UPDATE messages SET source = 'tam.government' WHERE seq = 7")
    broken = invoke(
        ["--lang", "en", "audit", "verify", "--ledger-url", f"sqlite:///{copy}"], tmp_path
    )
    assert broken.exit_code == 1
    said = " ".join(broken.stdout.split())  # Rich wraps long lines
    assert "BROKEN at ledger row 7" in said and "6 rows before it verified" in said


def test_the_demo_over_tls(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = invoke(["creds", "tls"], home)
    assert made.exit_code == 0, made.output
    result = run(["demo"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tls {" in (home / "nats" / "nats-server.conf").read_text()
    assert " NO " not in result.stdout


def test_names_are_sealed_at_rest_and_shown_only_on_request(
    demo_home: tuple[Path, subprocess.Popen[str]],
) -> None:
    import sqlite3

    home, _ = demo_home
    with sqlite3.connect(home / "ledger.db") as db:
        stored = db.execute("SELECT body, personal_sealed FROM messages").fetchall()
        kept = db.execute("SELECT body_sealed FROM dead_letters").fetchall()
    assert any(sealed for _, sealed in stored)  # the confirmation carried details
    for row in [*stored, *kept]:
        assert all(b"Ejemplo" not in (cell or b"") for cell in row)
    assert oct((home / "creds" / "ledger.key").stat().st_mode & 0o777) == "0o600"
    plain = json_lines(["case", "MPDDHP-2026-0415"], home)
    assert "Ejemplo" not in json.dumps(plain)
    shown = json_lines(["case", "MPDDHP-2026-0415", "--personal"], home)
    confirmed = next(e for e in shown if e["message"] == "capacity.placement_confirmed")
    assert confirmed["personal"] == "Defensora A. Ejemplo; Defensor B. Ejemplo"
