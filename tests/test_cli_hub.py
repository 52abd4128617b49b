"""``mechbus up`` as a user runs it, with ``send``, ``sweep``, ``agency run``, ``relocate``,
``placements confirm``, ``dlq`` and ``replay`` against its real nats-server, each in a process
of its own; what the hub recorded is read through the views in this process."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests import builders as b
from tests.cli_processes import (
    SEND_PATROL,
    invoke,
    json_lines,
    launch,
    run,
    running_up,
    wait_for_hub,
    wait_until_gone,
)

# mechbus runs as its own process; the checks read its English words
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("english_cli")]


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
    while not (rows := json_lines(["requests"], home)):
        assert time.monotonic() < deadline, "the request was not recorded"
    assert rows[0]["recipient"] == "gro.government" and rows[0]["status"] == "sent"
    assert rows[0]["urgency"] == "urgent" and rows[0]["kind"] == "protection_measure"
    recalled = run(["send", "recall", str(rows[0]["request_id"]), "--reason", "Reubicada."], home)
    assert recalled.returncode == 0, recalled.stdout + recalled.stderr
    deadline = time.monotonic() + 30
    while json_lines(["requests"], home)[0]["status"] != "cancelled":
        assert time.monotonic() < deadline, "the recall was not recorded"
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0 and "stopped cleanly" in output, output
    assert not (home / "nats.url").exists()


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
    fresh = run(ASK_GUERRERO, home)  # the outbox is in the ledger, which nobody has made yet
    assert fresh.returncode == 1 and "mechbus db upgrade" in " ".join(fresh.stdout.split())
    assert run(["db", "upgrade"], home).returncode == 0
    no_server = run(ASK_GUERRERO, home)
    server_down = run([*ASK_GUERRERO, "--nats-url", "nats://127.0.0.1:9"], home)
    for sent in (no_server, server_down):
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "kept in the outbox" in " ".join(sent.stdout.split())
    assert len(json_lines(["outbox", "list"], home)) == 2
    assert invoke(["outbox", "relay"], home).exit_code == 2  # still nobody to relay to

    proc = launch(["up"], home)
    try:
        wait_for_hub(proc)
        deadline = time.monotonic() + 60
        while len(json_lines(["requests"], home)) < 2:
            assert time.monotonic() < deadline, "the outbox was not relayed"
        assert json_lines(["outbox", "list"], home) == []
        # relayed once each: the ledger holds exactly the two requests
        assert len({r["request_id"] for r in json_lines(["requests"], home)}) == 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        wait_until_gone(str(home))


def test_up_sweeps_and_the_board_agenda_fills(
    running_hub: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    home, _ = running_hub
    summons = tmp_path / "summons.json"
    summons.write_bytes(b.board_summons("tam.government", case="MPDDHP-2026-0401").to_json())
    refused = run(["send", "file", str(summons)], home)  # no consent recorded yet
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "no recorded consent" in refused.stdout and "tam.government" in refused.stdout
    assert json_lines(["outbox", "list"], home) == []  # nothing kept to send later either
    not_state = run(
        ["board", "consent", "MPDDHP-2026-0401", "--given", "--agency", "fed.board"], home
    )
    assert not_state.returncode == 2 and "not a state authority" in not_state.stdout
    consent = ["board", "consent", "MPDDHP-2026-0401", "--given", "--agency", "tam.government"]
    given = run(consent, home)
    assert given.returncode == 0, given.stdout + given.stderr
    scheduled = run(
        [
            "board",
            "schedule",
            "JG-2026-04",
            "--at",
            f"{datetime.now(UTC) + timedelta(days=4 * 365):%Y-%m-%d}T10:00-06:00",  # to come
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
    while not (items := json_lines(["board", "agenda", "JG-2026-04"], home)):
        assert time.monotonic() < deadline, "the ladder never reached the Board's agenda"
    # the consent came before the request in the stream: the authority is invited
    assert {k: items[0][k] for k in ("case", "state", "invited", "consent", "owes")} == {
        "case": "MPDDHP-2026-0401",
        "state": "Tamaulipas",
        "invited": "Titular de la Secretaría General de Gobierno del Estado de Tamaulipas",
        "consent": True,
        "owes": "acknowledgement",
    }
    assert items[0]["overdue_hours"] >= 0 and items[0]["carried_from"] is None
    table = run(["board", "agenda", "--session", "JG-2026-04"], home).stdout
    assert "MPDDHP-2026-0401" in table and "yes" in table and "Carried" in table  # wraps
    sent_now = run(["send", "file", str(summons)], home)  # with consent it goes out
    assert sent_now.returncode == 0 and "published" in sent_now.stdout, sent_now.stdout
    swept = run(["sweep"], home)  # one pass as the hub's user, beside the one `up` runs
    assert swept.returncode == 0 and "escalation messages" in swept.stdout, swept.stdout
    attended = run(["board", "attendance", "JG-2026-04", "tam.government", "--absent"], home)
    assert attended.returncode == 0, attended.stdout + attended.stderr


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
        while json_lines(["requests"], home)[0]["status"] != "declined":
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
                # only a shelter that declares the service needed is asked
                "services": ["alojamiento", "alimentación", "atención psicológica"],
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
        # every registered shelter is listed; this one once its report has arrived
        while not any(r["report"] is None for r in json_lines(["shelters"], home)):
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
        while json_lines(["placements"], home)[0]["status"] != "offered":
            assert time.monotonic() < deadline, "the shelter never offered"
        request_id = str(json_lines(["placements"], home)[0]["request"])
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
        while json_lines(["placements"], home)[0]["status"] != "arrived":
            assert time.monotonic() < deadline, "the people never arrived"
        [cdmx] = [r for r in json_lines(["shelters"], home) if r["report"] is None]
        assert cdmx["free"] == 1
        too_many = invoke(
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
        assert too_many.exit_code == 1 and "1 free spaces for 4 people" in too_many.stdout
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


def test_dlq_list_show_and_retry(
    running_hub: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    from tests import builders as b

    home, _ = running_hub
    sent = run([*SEND_PATROL, "--instructions", "Rondines."], home)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    deadline = time.monotonic() + 30
    while not json_lines(["requests"], home):
        assert time.monotonic() < deadline
    request_id = str(json_lines(["requests"], home)[0]["request_id"])
    accept, ack = tmp_path / "accept.json", tmp_path / "ack.json"
    accept.write_bytes(b.acceptance(request_id, at=datetime.now(UTC)).to_json())
    ack.write_bytes(b.acknowledgement(request_id, at=datetime.now(UTC)).to_json())
    assert run(["send", "file", str(accept)], home).returncode == 0  # before acknowledging
    while not (dead := json_lines(["dlq", "list"], home)):
        assert time.monotonic() < deadline, "the early acceptance was not kept"
    assert dead[0]["reason"] == "illegal_transition" and dead[0]["sender"] == "gro.government"
    shown = invoke(["dlq", "show", str(dead[0]["id"]), "--raw"], home)
    assert "must acknowledge" in shown.stdout and "mech.response.accepted.v1" in shown.stdout
    assert run(["send", "file", str(ack)], home).returncode == 0
    while json_lines(["requests"], home)[0]["status"] != "acknowledged":
        assert time.monotonic() < deadline
    retried = run(["dlq", "retry", str(dead[0]["id"])], home)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    while json_lines(["requests"], home)[0]["status"] != "accepted":
        assert time.monotonic() < deadline, "the retried acceptance was not recorded"
    assert invoke(["dlq", "show", "999"], home).exit_code == 2
    # Everything above, the dead letter and its retry included, rebuilds from the stream.
    rebuilt = run(["replay", "--into", f"sqlite:///{tmp_path / 'rebuilt.db'}"], home)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "the rebuilt ledger equals the live one" in " ".join(rebuilt.stdout.split())
    again = run(["replay", "--into", f"sqlite:///{tmp_path / 'rebuilt.db'}"], home)
    assert again.returncode == 2 and "not empty" in again.stdout
