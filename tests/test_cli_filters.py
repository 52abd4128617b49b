"""What staff type into the command line, checked: a mistyped state, agency, urgency, kind,
case or id exits 2 saying what is valid (never an empty table); the right ones work in either
language and any case; six characters of an id stand for it; a reading view never creates a
ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.settings import load_settings
from bus.domain.recording import record_batch
from tests import builders as b
from tests.cli_processes import invoke, json_lines, said
from tests.ledgers import home_ledger
from tests.test_recording import Stream

# Two requests whose ids share their first 25 characters, a third apart from them.
TWIN_A = "01KB2N5W6XAAAAAAAAAAAA0001"
TWIN_B = "01KB2N5W6XAAAAAAAAAAAA0002"
LONE = "01KC7QRSTVBBBBBBBBBBBB0003"
OAXACA = "01KD9HJKMNCCCCCCCCCCCC0004"
GUERRERO_GOVERNMENT = "Secretaría General de Gobierno del Estado de Guerrero"


def four_requests(home: Path) -> Path:
    """``home`` with a ledger holding two urgent patrols for Guerrero's government (the
    twins), an ordinary investigation for Guerrero's prosecutor, and an ordinary request to
    Oaxaca."""
    ledger = home_ledger(load_settings(home=home))
    messages = [
        b.patrol_request(id=TWIN_A),
        b.patrol_request(id=TWIN_B),
        b.investigation_request(id=LONE, subject="MPDDHP-2026-0500"),
        b.patrol_request(
            "oax.government", id=OAXACA, subject="MPDDHP-2026-0600", urgency="ordinary"
        ),
    ]
    stream = Stream()
    try:
        record_batch(ledger, [stream.deliver(m) for m in messages], datetime.now(UTC), b.RULES)
    finally:
        ledger.close()
    return home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return four_requests(tmp_path / "home")


def _pending(home: Path, *args: str) -> set[str]:
    return {row["request"] for row in json_lines(["pending", *args], home)}


@pytest.mark.parametrize(
    ("args", "valid"),
    [
        (["pending", "--state", "Guerreo"], "GRO (Guerrero)"),
        (["pending", "--state", "MX-XYZ"], "OAX (Oaxaca)"),
        (["pending", "--agency", "gro.gobierno"], f"gro.government ({GUERRERO_GOVERNMENT})"),
        (["pending", "--urgency", "pronto"], "urgent"),
        (["pending", "--kind", "patrulla"], "investigation"),
        (["commitments", "--state", "Narnia"], "CMX (Ciudad de México)"),
        (["commitments", "--agency", "oax.policia"], "oax.prosecutor"),
        (["dlq", "list", "--reason", "esquema"], "schema"),
        (["dlq", "list", "--sender", "gro.gobierno"], "gro.government"),
        (["iachr", "list", "--state", "Gotham"], "GRO (Guerrero)"),
        (["case", "MPDDHP-2026-9999"], "MPDDHP-2026-0412"),
        (["case", "no es caso"], "MPDDHP-2026-0412"),
        (["agenda", "MPDDHP-2026-9999"], "MPDDHP-2026-0412"),
    ],
)
@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_mistyped_filter_exits_2_naming_what_is_valid(
    home: Path, args: list[str], valid: str, lang: str
) -> None:
    result = invoke(["--lang", lang, *args], home)
    assert result.exit_code == 2, result.output
    assert valid in said(result)


def test_the_refusal_speaks_the_chosen_language(home: Path) -> None:
    spanish = said(invoke(["pending", "--urgency", "pronto"], home))
    assert "'pronto' no es una urgencia" in spanish and "urgente (urgent)" in spanish
    english = said(invoke(["--lang", "en", "pending", "--urgency", "pronto"], home))
    assert "'pronto' is not an urgency: one of urgent, ordinary" in english
    kinds = said(invoke(["pending", "--kind", "patrulla"], home))
    assert "medida de protección (protection_measure)" in kinds
    agency = said(invoke(["--lang", "en", "pending", "--agency", "gro.gobierno"], home))
    assert "--agency: 'gro.gobierno' is not an agency in the registry. Did you mean" in agency


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--state", "GRO"], {TWIN_A, TWIN_B, LONE}),
        (["--state", "gro"], {TWIN_A, TWIN_B, LONE}),
        (["--state", "Guerrero"], {TWIN_A, TWIN_B, LONE}),
        (["--state", "oaxaca"], {OAXACA}),
        (["--state", "MX-OAX"], {OAXACA}),
        (["--agency", "GRO.Government"], {TWIN_A, TWIN_B}),
        (["--urgency", "urgente"], {TWIN_A, TWIN_B}),
        (["--urgency", "URGENT"], {TWIN_A, TWIN_B}),
        (["--urgency", "Ordinaria"], {LONE, OAXACA}),
        (["--kind", "investigación"], {LONE}),
        (["--kind", "Investigacion"], {LONE}),
        (["--kind", "investigation"], {LONE}),
        (["--kind", "medida de protección", "--state", "Guerrero"], {TWIN_A, TWIN_B}),
        (["--kind", "protection_measure", "--urgency", "ordinary"], {OAXACA}),
    ],
)
def test_the_right_values_work_in_either_language_and_any_case(
    home: Path, args: list[str], expected: set[str]
) -> None:
    assert _pending(home, *args) == expected


def test_other_states_are_known_by_their_names_too(home: Path) -> None:
    for name in ("Ciudad de Mexico", "CDMX", "estado de méxico", "Michoacán", "nuevo leon"):
        result = invoke(["pending", "--state", name, "--json"], home)
        assert result.exit_code == 0, result.output
        assert result.stdout == ""  # no request there: an empty answer, not a refusal


def test_a_case_number_in_any_case_is_the_case(home: Path) -> None:
    upper = json_lines(["case", "MPDDHP-2026-0412"], home)
    assert len(upper) == 2
    assert json_lines(["case", "mpddhp-2026-0412"], home) == upper
    assert json_lines(["case", " Mpddhp-2026-0412 "], home) == upper
    assert len(json_lines(["agenda", "mpddhp-2026-0500"], home)) >= 1


def test_a_request_given_by_six_characters_of_its_end_opens_its_case(home: Path) -> None:
    """The tables show the end of a request's id: it is enough to open the case."""
    by_tail = json_lines(["case", LONE[-6:].lower()], home)
    assert by_tail == json_lines(["case", "MPDDHP-2026-0500"], home) != []


def _outbox(home: Path) -> list[Any]:
    from adapters.ledger.outbox import Outbox

    ledger = home_ledger(load_settings(home=home))
    try:
        return Outbox(ledger)._next(100)
    finally:
        ledger.close()


NOWHERE = ["--nats-url", "nats://127.0.0.1:9"]


def test_six_characters_of_a_request_id_stand_for_it(home: Path) -> None:
    for typed in (LONE[:6], LONE[:6].lower(), LONE[-6:]):
        sent = invoke(["send", "update", typed, "--changes", "nuevo domicilio", *NOWHERE], home)
        assert sent.exit_code == 0, sent.output
    kept = _outbox(home)
    assert [m.correlation_id for m in kept] == [LONE] * 3  # the whole id, each time
    assert {m.recipients for m in kept} == {("gro.prosecutor",)}


def test_five_characters_are_refused(home: Path) -> None:
    result = invoke(["--lang", "en", "send", "recall", LONE[:5], "--reason", "x", *NOWHERE], home)
    assert result.exit_code == 2, result.output
    assert "is too short for a request's id: give at least 6 characters of it" in said(result)
    assert _outbox(home) == []


def test_a_shared_prefix_lists_the_requests_it_names(home: Path) -> None:
    shared = TWIN_A[:20]
    assert TWIN_B.startswith(shared)
    result = invoke(["--lang", "en", "send", "recall", shared, "--reason", "x", *NOWHERE], home)
    assert result.exit_code == 2, result.output
    text = said(result)
    assert "names more than one request" in text
    for twin in (TWIN_A, TWIN_B):
        assert f"{twin} (MPDDHP-2026-0412; {GUERRERO_GOVERNMENT})" in text
    assert _outbox(home) == []
    unknown = invoke(["send", "recall", "ZZZZZZZZ", "--reason", "x", *NOWHERE], home)
    assert unknown.exit_code == 2 and "ZZZZZZZZ" in said(unknown)


def test_requests_is_a_list_view_with_csv_and_json(home: Path) -> None:
    rows = json_lines(["requests"], home)
    assert {r["request_id"] for r in rows} == {TWIN_A, TWIN_B, LONE, OAXACA}
    assert {"recipient", "status", "sent_at", "case_ref"} <= set(rows[0])
    result = invoke(["requests", "--csv", "--limit", "2"], home)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Solicitud,Tipo,Expediente,Urgencia,Autoridad,Situación")
    assert len(lines) == 3 and "hay más" in result.stderr
    both = invoke(["requests", "--csv", "--json"], home)
    assert both.exit_code == 2


READING_VIEWS = [
    ["pending"],
    ["requests"],
    ["commitments"],
    ["case", "MPDDHP-2026-0412"],
    ["agenda", "MPDDHP-2026-0412"],
    ["scorecard"],
    ["shelters"],
    ["placements"],
    ["board", "agenda"],
    ["federal", "list"],
    ["federal", "scorecard"],
    ["iachr", "list"],
    ["dlq", "list"],
    ["dlq", "show", "1"],
    ["outbox", "list"],
    ["report", "--month", "2026-01"],
    ["forecast", "--officers", "3"],
    ["dashboard", "user", "list"],
    ["dashboard", "user", "logins"],
]


@pytest.mark.parametrize("view", READING_VIEWS, ids=" ".join)
def test_a_reading_view_never_creates_a_ledger(tmp_path: Path, view: list[str]) -> None:
    home = tmp_path / "home"
    result = invoke(["--lang", "en", *view], home)
    assert result.exit_code == 1, result.output
    text = said(result)
    assert f"there is no ledger at {home / 'ledger.db'}" in text
    assert "`mechbus up` creates it" in text and "mechbus db upgrade" in text
    assert not (home / "ledger.db").exists()
    assert not (home / "creds").exists()  # nor a sealing key for a ledger that is not there


def test_no_ledger_is_said_in_spanish_by_default(tmp_path: Path) -> None:
    result = invoke(["pending"], tmp_path / "home")
    assert result.exit_code == 1
    assert "no hay registro en" in said(result)
    assert not (tmp_path / "home" / "ledger.db").exists()


def test_the_csv_of_requests_holds_the_same_rows_as_its_json(home: Path) -> None:
    result = invoke(["requests", "--csv"], home)
    header, *lines = result.stdout.splitlines()
    rows = json_lines(["requests"], home)
    assert len(lines) == len(rows)
    # one column a field, under its name in Spanish; JSON adds the recipient's name to its id
    keys = [k for k in rows[0] if k != "recipient_name"]
    assert len(header.split(",")) == len(keys)
    assert header.startswith("Solicitud,Tipo,Expediente,Urgencia,Autoridad")


def test_the_dashboards_account_lists_take_json_and_csv_too(home: Path) -> None:
    from tests.dashboard.staff import add_accounts

    add_accounts(load_settings(home=home))
    accounts = json_lines(["dashboard", "user", "list"], home)
    assert {(a["name"], a["role"], a["state"]) for a in accounts} == {
        ("vera", "viewer", "enabled"),
        ("omar", "operator", "enabled"),
        ("cata", "caseworker", "enabled"),
    }
    listed = invoke(["dashboard", "user", "list", "--csv"], home)
    assert listed.stdout.splitlines()[0] == "Cuenta,Rol,Estado,Creada"
    assert len(listed.stdout.splitlines()) == 4
    logins = invoke(["dashboard", "user", "logins", "--csv"], home)
    assert logins.exit_code == 0
    assert logins.stdout.splitlines() == ["Cuándo,Cuenta,Resultado,Motivo,Cliente"]
    assert invoke(["dashboard", "user", "list", "--json", "--csv"], home).exit_code == 2
