"""The command line as a user meets it: real processes, a real nats-server, no orphans left."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.cli import app

pytestmark = pytest.mark.e2e

MECHBUS = [sys.executable, "-m", "adapters.cli"]
SEND_PATROL = [
    "send",
    "protection-measure",
    "--to",
    "gro.government",
    "--case",
    "MPDDHP-2026-0412",
    "--state",
    "GRO",
    "--measure",
    "perimeter_patrol",
]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MECHBUS_HOME"] = str(home)
    env.pop("MECHBUS_NATS_URL", None)
    env.pop("MECHBUS_LEDGER_URL", None)
    return env


def processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line mentions ``text`` (a path or a URL)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z" and any(text.encode() in part for part in cmdline):
            pids.append(int(entry.name))
    return pids


def wait_until_gone(text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while processes_mentioning(text):
        assert time.monotonic() < deadline, f"left running: {processes_mentioning(text)}"
        os.sched_yield()


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MECHBUS, *args], env=_env(home), capture_output=True, text=True, timeout=120
    )


def launch(args: list[str], home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MECHBUS, *args],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextlib.contextmanager
def running_up(
    home: Path, issued: Iterable[str] = (), args: Iterable[str] = ()
) -> Iterator[subprocess.Popen[str]]:
    """``mechbus up [args]`` on ``home`` once it says it is up, with credentials issued first
    for ``issued`` as a deployment would; stopped with Ctrl-C, leaving nothing behind."""
    for agency in issued:
        done = run(["creds", "issue", agency], home)
        assert done.returncode == 0, done.stdout + done.stderr
    proc = launch(["up", *args], home)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "hub up on" in line:
            break
    else:
        pytest.fail("mechbus up did not start")
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
        wait_until_gone(str(home))


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


@pytest.fixture(scope="module")
def demo_home(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    home = tmp_path_factory.mktemp("demo") / "home"
    return home, run(["demo"], home)


def test_demo_runs_to_the_end_and_leaves_nothing(
    demo_home: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    home, result = demo_home
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "response.acknowledgement" in out and "response.delivery_receipt" in out
    assert "compressed clock" in out
    for rung in ("reminder", "authority notice", "board agenda", "monthly report"):
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
    ):
        line = next(line for line in out.splitlines() if claim in line)
        assert "yes" in line, line
    assert " NO " not in out
    assert "Ejemplo" not in out + result.stderr  # personal data never printed
    assert (home / "ledger.db").exists() and (home / "nats" / "jetstream").is_dir()
    wait_until_gone(str(home))


def _json_lines(args: list[str], home: Path) -> list[dict[str, object]]:
    result = run([*args, "--json"], home)
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_tracking_views_on_the_demo_record(
    demo_home: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    home, _ = demo_home
    pending = _json_lines(["pending"], home)
    assert pending[0]["agency"] == "tam.government"  # the most overdue comes first
    assert pending[0]["owes"] == "acknowledgement"
    assert datetime.fromisoformat(str(pending[0]["due"])) < datetime.now(UTC)  # overdue
    assert [p["agency"] for p in _json_lines(["pending", "--state", "TAM"], home)] == [
        "tam.government"
    ]
    assert _json_lines(["pending", "--state", "VER"], home) == []
    assert len(_json_lines(["pending", "--urgency", "urgent", "--kind", "information"], home)) == 1

    # Commitments made were fulfilled, fully or in part (the slow prosecutor's may be open).
    assert {c["agency"] for c in _json_lines(["commitments"], home)} <= {"gro.prosecutor"}
    assert _json_lines(["commitments", "--overdue"], home) == []

    case = _json_lines(["case", "MPDDHP-2026-0412"], home)
    kinds = [e["message"] for e in case]
    assert kinds[0].startswith("request.") and "response.acknowledgement" in kinds
    assert "response.commitment_made" in kinds and "response.commitment_fulfilled" in kinds
    assert "request.board_summons" in kinds
    shelters = {s["shelter"]: s for s in _json_lines(["shelters"], home)}
    assert shelters["shelter.casa-refugio-cdmx"]["free"] == 1  # 3 free, 2 placed
    assert shelters["shelter.albergue-oaxaca"]["stale"] == ""
    placements = _json_lines(["placements"], home)
    assert [(p["shelter"], p["status"], p["people"]) for p in placements] == [
        ("shelter.casa-refugio-cdmx", "arrived", 2)
    ]
    silent_case = _json_lines(["case", "MPDDHP-2026-0401"], home)
    assert [e["message"] for e in silent_case] == [
        "request.information",
        "response.delivery_receipt",  # the silent agency's client receipts; nobody answers
        "tracking.acknowledgement_overdue",
        "tracking.escalated",
        "tracking.escalated",
        "tracking.escalated",
    ]

    scores = {s["state"]: s for s in _json_lines(["scorecard"], home)}
    assert scores["TAM"]["open_overdue"] == 1 and scores["TAM"]["ack_on_time_pct"] == 0.0
    assert scores["GRO"]["received"] == 2  # patrols, investigation (the summons is apart)
    assert scores["GRO"]["summons_attended"] == "0/1"
    assert scores["VER"]["kept_on_time_pct"] is None  # due in a week: not due yet

    # what may still be open on the journalist's case: the slow prosecutor's answer
    agenda = _json_lines(["agenda", "MPDDHP-2026-0412"], home)
    assert all(a["agency"] == "gro.prosecutor" for a in agenda), agenda
    assert len(_json_lines(["agenda", "MPDDHP-2026-0401"], home)) == 1  # Tamaulipas owes

    csv_out = run(["scorecard", "--csv", "--sort", "ack_on_time_pct"], home).stdout.splitlines()
    assert csv_out[0].startswith("state,received,ack_on_time_pct")
    assert csv_out[1].startswith("TAM,")  # worst first

    month = datetime.now(UTC).strftime("%Y-%m")
    made = run(["report", "--month", month, "--out", str(tmp_path)], home)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "tam.government" in (tmp_path / f"report-{month}.md").read_text()
    assert (tmp_path / f"scorecard-{month}.svg").read_text().startswith("<svg")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["report", "--month", "2026-13"], "is not a month"),
        (["scorecard", "--sort", "shoe_size"], "--sort must be one of"),
        (["pending", "--json", "--csv"], "choose one of --json and --csv"),
    ],
)
def test_view_arguments_are_checked(tmp_path: Path, args: list[str], words: str) -> None:
    result = run(args, tmp_path)
    assert result.returncode == 2 and words in result.stdout


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


@pytest.fixture
def running_hub(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """``mechbus up`` with a policy whose urgent acknowledgement clock is one second."""
    home = tmp_path / "home"
    shipped = (Path(__file__).parents[1] / "bus" / "data" / "policy.toml").read_text()
    policy = tmp_path / "policy.toml"
    policy.write_text(shipped.replace('urgent = "1h"', 'urgent = "1s"'))
    # the agencies these tests run get credentials first, as a deployment would issue them
    agencies = ("gro.government", "shelter.casa-refugio-cdmx")
    args = ("--policy", str(policy), "--sweep-interval", "0.2")
    with running_up(home, agencies, args) as proc:
        yield home, proc


def test_up_send_requests(running_hub: tuple[Path, subprocess.Popen[str]]) -> None:
    home, proc = running_hub
    sent = run(
        [*SEND_PATROL, "--instructions", "Rondines perimetrales cada 4 horas.", "--urgent"],
        home,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "published" in sent.stdout
    deadline = time.monotonic() + 30
    while True:
        listed = run(["requests", "--json"], home)
        rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
        if rows:
            break
        assert time.monotonic() < deadline, listed.stdout + listed.stderr
    assert rows[0]["recipient"] == "gro.government" and rows[0]["status"] == "sent"
    assert rows[0]["urgency"] == "urgent" and rows[0]["kind"] == "protection_measure"
    recalled = run(["send", "recall", str(rows[0]["request_id"]), "--reason", "Reubicada."], home)
    assert recalled.returncode == 0, recalled.stdout + recalled.stderr
    deadline = time.monotonic() + 30
    while _json_lines(["requests"], home)[0]["status"] != "cancelled":
        assert time.monotonic() < deadline, "the recall was not recorded"
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0 and "stopped cleanly" in output, output
    assert not (home / "nats.url").exists()


def test_send_refuses_bad_input_before_publishing(tmp_path: Path) -> None:
    result = run(
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
    assert result.returncode == 2
    assert "unknown agency 'gro.police'" in result.stdout
    assert "subject" in result.stdout  # the case reference pattern, too


ASK_GUERRERO = [
    "send",
    "information",
    "--to",
    "gro.government",
    "--case",
    "MPDDHP-2026-0412",
    "--question",
    "¿Estado de las medidas?",
]


def test_send_while_nats_is_away_is_kept_and_relayed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    no_server = run(ASK_GUERRERO, home)
    server_down = run([*ASK_GUERRERO, "--nats-url", "nats://127.0.0.1:9"], home)
    for sent in (no_server, server_down):
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "kept in the outbox" in " ".join(sent.stdout.split())
    assert len(_json_lines(["outbox", "list"], home)) == 2
    assert run(["outbox", "relay"], home).returncode == 2  # still nobody to relay to

    proc = launch(["up"], home)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "hub up on" in line:
                break
        deadline = time.monotonic() + 60
        while len(_json_lines(["requests"], home)) < 2:
            assert time.monotonic() < deadline, "the outbox was not relayed"
        assert _json_lines(["outbox", "list"], home) == []
        # relayed once each: the ledger holds exactly the two requests
        assert len({r["request_id"] for r in _json_lines(["requests"], home)}) == 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        wait_until_gone(str(home))


def test_demo_on_an_existing_server(tmp_path: Path) -> None:
    from adapters.natsserver.server import EmbeddedNatsServer

    with EmbeddedNatsServer(tmp_path / "their-nats") as server:
        result = run(["demo", "--nats-url", server.url], tmp_path / "home")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "embedded nats-server" not in result.stdout
        assert result.stdout.count("accepted") >= 4
        assert server.running
    assert not (tmp_path / "home" / "nats").exists()


def test_up_sweeps_and_the_board_agenda_fills(
    running_hub: tuple[Path, subprocess.Popen[str]],
) -> None:
    home, _ = running_hub
    scheduled = run(
        [
            "board",
            "schedule",
            "JG-2026-04",
            "--at",
            "2030-04-15T10:00-06:00",
            "--venue",
            "Secretaría de Gobernación",
        ],
        home,
    )
    assert scheduled.returncode == 0, scheduled.stdout + scheduled.stderr
    sent = run(
        [
            "send",
            "information",
            "--to",
            "tam.government",
            "--case",
            "MPDDHP-2026-0401",
            "--question",
            "¿Estado de las medidas?",
            "--urgent",
        ],
        home,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    deadline = time.monotonic() + 60
    while not (items := _json_lines(["board", "agenda", "JG-2026-04"], home)):
        assert time.monotonic() < deadline, "the ladder never reached the Board's agenda"
    assert items[0]["authority_to_summon"] == "tam.government"
    swept = run(["sweep"], home)  # one pass as the hub's user, beside the one `up` runs
    assert swept.returncode == 0 and "escalation messages" in swept.stdout, swept.stdout
    attended = run(["board", "attendance", "JG-2026-04", "tam.government", "--absent"], home)
    assert attended.returncode == 0, attended.stdout + attended.stderr


def test_bad_board_and_policy_input(tmp_path: Path) -> None:
    naive = run(
        [
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
    assert naive.returncode == 2 and "give a time zone" in naive.stdout
    bad = tmp_path / "policy.toml"
    bad.write_text("[clocks.acknowledgement]\nurgent = 'soon'\n")
    refused = run(["up", "--policy", str(bad)], tmp_path / "home")
    assert refused.returncode == 2 and "bad deadline policy" in refused.stdout


SMALL_SCENARIO = (Path(__file__).parent / "data" / "short_scenario.toml").read_text()


def test_demo_plays_a_scenario_file(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SMALL_SCENARIO)
    result = run(["demo", "--scenario", str(scenario)], tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "prueba corta" in result.stdout and " NO " not in result.stdout
    assert "move placed with shelter.albergue-oaxaca" in result.stdout
    partial = _json_lines(["case", "MPDDHP-2026-0600"], tmp_path / "home")
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


def test_agency_run_with_a_profile(running_hub: tuple[Path, subprocess.Popen[str]]) -> None:
    home, _ = running_hub
    agency = launch(["agency", "run", "--as", "gro.government", "--profile", "declines"], home)
    try:
        assert agency.stdout is not None
        assert agency.stdout.readline().startswith("ready gro.government (declines)")
        sent = run(
            [*SEND_PATROL, "--instructions", "Rondines."],
            home,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        deadline = time.monotonic() + 30
        while _json_lines(["requests"], home)[0]["status"] != "declined":
            assert time.monotonic() < deadline, "the declining agency never declined"
    finally:
        agency.send_signal(signal.SIGTERM)
        agency.communicate(timeout=30)
    assert agency.returncode == 0


def test_relocate_and_confirm_from_the_command_line(
    running_hub: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    home, _ = running_hub
    capacity = tmp_path / "capacity.json"
    capacity.write_text(
        json.dumps(
            {
                "total_spaces": 5,
                "spaces_now": 3,
                "spaces_24h": 3,
                "spaces_72h": 3,
                "region": "centro",
                "max_stay_days": 120,
            }
        )
    )
    shelter = launch(
        ["agency", "run", "--as", "shelter.casa-refugio-cdmx", "--capacity", str(capacity)], home
    )
    try:
        assert shelter.stdout is not None
        assert shelter.stdout.readline().startswith("ready shelter.casa-refugio-cdmx")
        deadline = time.monotonic() + 30
        while not _json_lines(["shelters"], home):
            assert time.monotonic() < deadline, "the shelter's capacity never arrived"
        asked = run(
            [
                "relocate",
                "--case",
                "MPDDHP-2026-0415",
                "--people",
                "2",
                "--origin-state",
                "GRO",
                "--earliest",
                date.today().isoformat(),
                "--days",
                "60",
                "--need",
                "atención psicológica",
                "--urgent",
            ],
            home,
        )
        assert asked.returncode == 0, asked.stdout + asked.stderr
        assert "asking shelter.casa-refugio-cdmx" in asked.stdout
        while _json_lines(["placements"], home)[0]["status"] != "offered":
            assert time.monotonic() < deadline, "the shelter never offered"
        request_id = str(_json_lines(["placements"], home)[0]["request"])
        details = tmp_path / "people.json"
        details.write_text(json.dumps([{"full_name": "Persona A"}, {"full_name": "Persona B"}]))
        confirmed = run(
            [
                "placements",
                "confirm",
                request_id,
                "--shelter",
                "shelter.casa-refugio-cdmx",
                "--details",
                str(details),
            ],
            home,
        )
        assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
        while _json_lines(["placements"], home)[0]["status"] != "arrived":
            assert time.monotonic() < deadline, "the people never arrived"
        assert _json_lines(["shelters"], home)[0]["free"] == 1
        too_many = run(
            [
                "relocate",
                "--case",
                "MPDDHP-2026-0416",
                "--people",
                "4",
                "--origin-state",
                "GRO",
                "--earliest",
                date.today().isoformat(),
                "--days",
                "60",
            ],
            home,
        )
        assert too_many.returncode == 1 and "1 free spaces for 4 people" in too_many.stdout
    finally:
        shelter.send_signal(signal.SIGTERM)
        shelter.communicate(timeout=30)


def test_the_embedded_server_refuses_anonymous_clients(
    running_hub: tuple[Path, subprocess.Popen[str]],
) -> None:
    import asyncio

    import nats
    from nats.errors import Error as NatsError

    home, _ = running_hub
    url = (home / "nats.url").read_text().strip()

    async def anonymous() -> None:
        await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0)

    with pytest.raises(NatsError, match="Authorization Violation"):
        asyncio.run(anonymous())
    assert oct((home / "creds").stat().st_mode & 0o777) == "0o700"
    assert oct((home / "creds" / "fed.mechanism.nk").stat().st_mode & 0o777) == "0o600"


def test_agency_run_needs_credentials(running_hub: tuple[Path, subprocess.Popen[str]]) -> None:
    home, _ = running_hub
    refused = run(["agency", "run", "--as", "ver.government"], home)
    assert refused.returncode == 2 and "mechbus creds issue ver.government" in refused.stdout


def test_creds_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(["creds", "list"], home).returncode == 2  # no store yet
    assert run(["creds", "init"], home).returncode == 0
    issued = run(["creds", "issue", "gro.government"], home)
    assert issued.returncode == 0 and "gro.government.nk" in issued.stdout
    listed = run(["creds", "list"], home).stdout
    assert "fed.hub" in listed and "gro.government  U" in listed
    assert run(["creds", "issue", "gro.police"], home).returncode == 2
    assert run(["creds", "revoke", "gro.government"], home).returncode == 0
    assert "gro.government" not in run(["creds", "list"], home).stdout
    assert not (home / "creds" / "gro.government.nk").exists()


def test_audit_verify_names_the_first_broken_link(
    demo_home: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    import shutil
    import sqlite3

    home, _ = demo_home
    intact = run(["audit", "verify"], home)
    assert intact.returncode == 0 and "rows verified, chain intact" in intact.stdout
    copy = tmp_path / "ledger.db"
    shutil.copy(home / "ledger.db", copy)
    with sqlite3.connect(copy) as db:  # an insider makes Tamaulipas look like it answered
        db.execute("UPDATE messages SET source = 'tam.government' WHERE seq = 7")
    broken = run(["audit", "verify", "--ledger-url", f"sqlite:///{copy}"], tmp_path)
    assert broken.returncode == 1
    said = " ".join(broken.stdout.split())  # Rich wraps long lines
    assert "BROKEN at ledger row 7" in said and "6 rows before it verified" in said


def test_the_demo_over_tls(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = run(["creds", "tls"], home)
    assert made.returncode == 0, made.stdout + made.stderr
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
    plain = _json_lines(["case", "MPDDHP-2026-0415"], home)
    assert "Ejemplo" not in json.dumps(plain)
    shown = _json_lines(["case", "MPDDHP-2026-0415", "--personal"], home)
    confirmed = next(e for e in shown if e["message"] == "capacity.placement_confirmed")
    assert confirmed["personal"] == "Defensora A. Ejemplo; Defensor B. Ejemplo"


def test_dlq_list_show_and_retry(
    running_hub: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    from tests import builders as b

    home, _ = running_hub
    sent = run([*SEND_PATROL, "--instructions", "Rondines."], home)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    deadline = time.monotonic() + 30
    while not _json_lines(["requests"], home):
        assert time.monotonic() < deadline
    request_id = str(_json_lines(["requests"], home)[0]["request_id"])
    accept, ack = tmp_path / "accept.json", tmp_path / "ack.json"
    accept.write_bytes(b.acceptance(request_id, at=datetime.now(UTC)).to_json())
    ack.write_bytes(b.acknowledgement(request_id, at=datetime.now(UTC)).to_json())
    assert run(["send", "file", str(accept)], home).returncode == 0  # before acknowledging
    while not (dead := _json_lines(["dlq", "list"], home)):
        assert time.monotonic() < deadline, "the early acceptance was not kept"
    assert dead[0]["reason"] == "illegal_transition" and dead[0]["sender"] == "gro.government"
    shown = run(["dlq", "show", str(dead[0]["id"]), "--raw"], home)
    assert "must acknowledge" in shown.stdout and "mech.response.accepted.v1" in shown.stdout
    assert run(["send", "file", str(ack)], home).returncode == 0
    while _json_lines(["requests"], home)[0]["status"] != "acknowledged":
        assert time.monotonic() < deadline
    retried = run(["dlq", "retry", str(dead[0]["id"])], home)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    while _json_lines(["requests"], home)[0]["status"] != "accepted":
        assert time.monotonic() < deadline, "the retried acceptance was not recorded"
    assert run(["dlq", "show", "999"], home).returncode == 2
    # Everything above, the dead letter and its retry included, rebuilds from the stream.
    rebuilt = run(["replay", "--into", f"sqlite:///{tmp_path / 'rebuilt.db'}"], home)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "the rebuilt ledger equals the live one" in " ".join(rebuilt.stdout.split())
    again = run(["replay", "--into", f"sqlite:///{tmp_path / 'rebuilt.db'}"], home)
    assert again.returncode == 2 and "not empty" in again.stdout


@pytest.mark.parametrize("columns", [None, "40"])
def test_messages_for_scripts_are_never_wrapped(tmp_path: Path, columns: str | None) -> None:
    deep = tmp_path / ("un-directorio-con-un-nombre-muy-largo-" * 4) / "politica"
    deep.mkdir(parents=True)
    policy = deep / "policy.toml"
    policy.write_text("[clocks.acknowledgement]\nurgent = 'soon'\n")
    env = _env(tmp_path / "home")
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
    [line] = [line for line in refused.stdout.splitlines() if "bad deadline policy" in line]
    assert str(policy) in line  # one line, the path whole
    runner = CliRunner(env={"COLUMNS": columns} if columns else None)
    again = runner.invoke(app, ["up", "--policy", str(policy), "--home", str(tmp_path / "h")])
    assert again.exit_code == 2
    assert str(policy) in again.output.splitlines()[0]


def _filled_ledger(path: Path) -> str:
    """A ledger holding seven of everything a list view shows."""
    from adapters.ledger.outbox import Outbox
    from adapters.ledger.store import SqlLedger
    from bus.domain import subjects
    from bus.domain.policy import Policy
    from bus.domain.ports import Delivery
    from bus.domain.recording import record_batch
    from schemas.capacity import CapacityUpdate
    from tests import builders as b

    url = f"sqlite:///{path}"
    ledger = SqlLedger(url)
    now = datetime.now(UTC)
    requests = [b.patrol_request(at=now) for _ in range(7)]
    first = requests[0].id
    due = now + timedelta(days=30)
    messages: list[Any] = [*requests, b.acknowledgement(first, at=now), b.acceptance(first, at=now)]
    messages += [b.commitment(first, f"C{i}", due=due, at=now) for i in range(7)]
    messages += [b.relocation_request(at=now)]
    messages += [
        CapacityUpdate(source=shelter, time=now, data=b.SHELTER_CAPACITY)
        for shelter in ("shelter.casa-refugio-cdmx", "shelter.albergue-oaxaca")
    ]
    deliveries = [
        Delivery(subjects.routes(m)[0][0], m.to_json(), seq) for seq, m in enumerate(messages, 1)
    ]
    deliveries += [  # seven dead letters
        Delivery("mech.v1.from.gro.government.acknowledgement", b"{not json", 100 + i)
        for i in range(7)
    ]
    record_batch(ledger, deliveries, now, Policy.load(None))
    for _ in range(7):
        Outbox(ledger).put(b.patrol_request(at=now))
    ledger.close()
    return url


PAGED_VIEWS = [
    (["dlq", "list"], 7),
    (["requests"], 9),  # seven requests, and the relocation to two shelters
    (["pending"], 8),  # six unanswered requests, and the relocation
    (["commitments"], 7),
    (["case", "MPDDHP-2026-0412"], 7),
    (["agenda", "MPDDHP-2026-0412"], 13),
    (["outbox", "list"], 7),
    (["shelters"], 2),
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
    url = _filled_ledger(tmp_path / "ledger.db")
    runner = CliRunner()

    def show(*args: str) -> tuple[list[dict[str, Any]], str]:
        result = runner.invoke(app, [*view, *args, "--json", "--ledger-url", url])
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
    assert "more follow: --offset 1" in table.stdout  # under the table


def test_a_cut_csv_stays_parseable(tmp_path: Path) -> None:
    url = _filled_ledger(tmp_path / "ledger.db")
    result = CliRunner().invoke(app, ["dlq", "list", "--csv", "--limit", "3", "--ledger-url", url])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("id,received,sender") and len(lines) == 4
    assert "more follow" in result.stderr
