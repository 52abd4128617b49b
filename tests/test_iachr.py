"""IACHR precautionary measures: the MC number's format, the dates' rules, recording on both
ledgers, the agenda's MC lines, and the command line (``send --iachr``, ``iachr``, ``agenda``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DeadLetterRow, IachrMeasureRow, MessageRow
from adapters.readmodel.iachr import case_measures, iachr_measures
from bus.domain import subjects
from bus.domain.iachr import LinkedMeasure, MeasureDates, date_problem, linked, state_warning
from bus.domain.ports import Delivery
from bus.domain.recording import Result, record_batch
from schemas.iachr import IachrMeasureRegistered, is_mc
from schemas.messages import parse_message
from schemas.tracking import Rejected, RejectionReason
from tests import builders as b
from tests.cli_processes import invoke, json_lines, said, upgraded_home
from tests.fakes import MemoryLedger
from tests.ledgers import outbox_messages, record_outbox

NOW = b.T0 + timedelta(minutes=1)
TODAY = NOW.date()


def measure(mc: str = "MC-123-24", **data: Any) -> IachrMeasureRegistered:
    body: dict[str, Any] = {
        "measure": mc,
        "granted_on": date(2024, 3, 1),
        "notified_on": date(2024, 3, 12),
        "state": "GRO",
        "beneficiaries": 2,
        "case_ref": "MPDDHP-2026-0412",
    }
    body.update(data)
    return IachrMeasureRegistered(source="fed.mechanism", time=b.T0, data=body)


class Stream:
    def __init__(self) -> None:
        self.seq = 0

    def deliver(self, message: Any) -> Delivery:
        self.seq += 1
        [(subject, _)] = subjects.routes(message, b.REGISTRY)[:1]
        return Delivery(subject, message.to_json(), self.seq)


# --- the MC number ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "valid"),
    [
        ("MC-123-24", True),
        ("MC-1-99", True),
        ("MC-1234-21", True),
        ("mc-123-24", True),  # normalised to upper case
        (" MC-123-24 ", True),
        ("MC-12345-24", False),  # at most four digits
        ("MC-123-2024", False),  # a two-digit year
        ("MC-123/24", False),
        ("MC 123-24", False),
        ("MPDDHP-2026-0412", False),
        ("MC--24", False),
        ("", False),
    ],
)
def test_mc_number_format(given: str, valid: bool) -> None:
    assert is_mc(given) is valid
    data = b.patrol_request().data.model_dump()
    if valid:
        linked_request = b.patrol_request(data={**data, "iachr_precautionary_measure": given})
        assert linked_request.data.iachr_precautionary_measure == given.strip().upper()
    else:
        with pytest.raises(ValidationError, match="iachr_precautionary_measure"):
            b.patrol_request(data={**data, "iachr_precautionary_measure": given})


def test_a_measure_names_no_one_and_a_known_state() -> None:
    assert set(measure().data.model_dump()) == {
        "measure",
        "granted_on",
        "notified_on",
        "state",
        "beneficiaries",
        "case_ref",
    }
    with pytest.raises(ValidationError, match="ISO 3166-2:MX"):
        measure(state="XXX")
    with pytest.raises(ValidationError, match="extra"):
        measure(names="Juana")


# --- the dates -------------------------------------------------------------------------------

D = date(2024, 3, 12)


@pytest.mark.parametrize(
    ("granted", "notified", "today", "problem"),
    [
        (date(2024, 3, 1), D, D, None),  # notified today
        (D, D, D, None),  # the same day
        (date(2024, 3, 13), D, D + timedelta(days=5), "before granted_on"),
        (date(2024, 3, 1), D + timedelta(days=1), D, "notified_on 2024-03-13 is in the future"),
        (D + timedelta(days=1), D + timedelta(days=2), D, "granted_on 2024-03-13 is in the future"),
    ],
)
def test_measure_dates(granted: date, notified: date, today: date, problem: str | None) -> None:
    found = date_problem(granted, notified, today)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


KNOWN = {
    "MC-123-24": MeasureDates("MC-123-24", date(2024, 3, 1), date(2024, 3, 12), "GRO", 2),
    "MC-7-25": MeasureDates("MC-7-25", date(2025, 1, 6), date(2025, 1, 20), "OAX", 1),
}


@pytest.mark.parametrize(
    ("linked_to", "expected"),
    [
        ([], []),
        (
            ["MC-123-24"],
            [LinkedMeasure("MC-123-24", True, date(2024, 3, 1), date(2024, 3, 12), 20, "GRO")],
        ),
        (["MC-9-25"], [LinkedMeasure("MC-9-25", registered=False)]),  # "sin registrar"
        (
            ["MC-9-25", "MC-123-24", "MC-123-24"],  # each once, in MC order
            [
                LinkedMeasure("MC-123-24", True, date(2024, 3, 1), date(2024, 3, 12), 20, "GRO"),
                LinkedMeasure("MC-9-25", registered=False),
            ],
        ),
    ],
)
def test_agenda_lines_of_linked_measures(
    linked_to: list[str], expected: list[LinkedMeasure]
) -> None:
    assert linked(linked_to, KNOWN, date(2024, 4, 1)) == expected


@pytest.mark.parametrize(
    ("mc", "state", "warned"),
    [("MC-123-24", "GRO", False), ("MC-123-24", "OAX", True), ("MC-1-20", "OAX", False)],
)
def test_a_measure_of_another_state_is_worth_a_warning(mc: str, state: str, warned: bool) -> None:
    warning = state_warning(mc, state, KNOWN.get(mc))
    assert (warning is not None) is warned
    if warned:
        assert warning is not None and "registered in GRO" in warning


# --- recording -------------------------------------------------------------------------------


def test_recording_keeps_the_latest_dates_and_every_message(ledger: SqlLedger) -> None:
    stream = Stream()
    first = measure()
    corrected = measure(notified_on=date(2024, 3, 14), beneficiaries=3)
    outcomes = record_batch(
        ledger, [stream.deliver(first), stream.deliver(corrected)], NOW, b.RULES
    )
    assert [o.result for o in outcomes] == [Result.RECORDED, Result.RECORDED]
    with ledger.session() as s:
        [row] = s.exec(select(IachrMeasureRow)).all()
        assert (row.measure, row.granted_on, row.notified_on) == (
            "MC-123-24",
            date(2024, 3, 1),
            date(2024, 3, 14),
        )
        assert row.beneficiaries == 3 and row.message_id == corrected.id
        assert row.updated_at == NOW
        kept = s.exec(select(MessageRow).where(MessageRow.type == first.type)).all()
        assert len(kept) == 2  # the history stays in the messages
        assert iachr_measures(s, "GRO")[0].notified_on == date(2024, 3, 14)
        assert iachr_measures(s, "OAX") == []


@pytest.mark.parametrize(
    ("dates", "said"),
    [
        ({"notified_on": date(2024, 2, 1)}, "before granted_on"),
        ({"notified_on": TODAY + timedelta(days=1)}, "in the future"),
    ],
)
def test_implausible_dates_are_a_dead_letter_and_the_sender_is_told(
    ledger: SqlLedger, dates: dict[str, date], said: str
) -> None:
    bad = measure(**dates)
    [refused] = record_batch(ledger, [Stream().deliver(bad)], NOW, b.RULES)
    assert refused.result is Result.DEAD_LETTER and refused.reason is RejectionReason.INVALID_DATES
    assert isinstance(refused.notice, Rejected)
    assert refused.notice.recipients == ("fed.mechanism",) and said in refused.notice.data.detail
    with ledger.session() as s:
        [kept] = s.exec(select(DeadLetterRow)).all()
        assert kept.reason == "invalid_dates" and said in kept.detail
        assert s.exec(select(IachrMeasureRow)).all() == []


def test_the_in_memory_ledger_records_it_too() -> None:
    memory = MemoryLedger()
    [done] = record_batch(memory, [Stream().deliver(measure())], NOW, b.RULES)  # type: ignore[arg-type]
    assert done.result is Result.RECORDED
    assert memory.state.iachr_measures["MC-123-24"].state == "GRO"


def test_a_case_shows_its_measures_registered_or_not(ledger: SqlLedger) -> None:
    stream = Stream()
    data = b.patrol_request().data.model_dump()
    linked_request = b.patrol_request(data={**data, "iachr_precautionary_measure": "MC-123-24"})
    unknown = b.patrol_request(data={**data, "iachr_precautionary_measure": "MC-9-25"})
    batch = [stream.deliver(m) for m in (measure(), linked_request, unknown)]
    assert all(o.result is Result.RECORDED for o in record_batch(ledger, batch, NOW, b.RULES))
    at = datetime(2024, 4, 1, 12, tzinfo=UTC)
    with ledger.session() as s:
        lines = case_measures(s, "MPDDHP-2026-0412", at)
        assert lines == [
            LinkedMeasure("MC-123-24", True, date(2024, 3, 1), date(2024, 3, 12), 20, "GRO"),
            LinkedMeasure("MC-9-25", registered=False),
        ]
        assert case_measures(s, "MPDDHP-2026-0001", at) == []
        # an MC's own reference is a case of its own
        assert [m.measure for m in case_measures(s, "MC-123-24", at)] == ["MC-123-24"]


# --- the command line ------------------------------------------------------------------------

PATROL = [
    "send",
    "protection-measure",
    "--to",
    "gro.government",
    "--case",
    "MPDDHP-2026-0412",
    "--state",
    "GRO",
    "--instructions",
    "Rondines perimetrales.",
    "--measure",
    "perimeter_patrol",
]
REGISTER = ["iachr", "register", "mc-123-24", "--granted", "2024-03-01", "--notified", "2024-03-12"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return upgraded_home(tmp_path)


INVESTIGATE = [
    "send",
    "investigation",
    "--to",
    "gro.prosecutor",
    "--case",
    "MPDDHP-2026-0412",
    "--aggression",
    "amenazas",
    "--facts",
    "Llamadas con amenazas.",
]


@pytest.mark.parametrize("bad", ["MC-123/24", "123-24", "MC-12345-24"])
def test_send_with_a_bad_mc_number_is_refused_saying_the_format(home: Path, bad: str) -> None:
    for command in (PATROL, INVESTIGATE):
        refused = invoke([*command, "--iachr", bad], home)
        assert refused.exit_code == 2, refused.output
        assert "no es un número de MC" in said(refused) and "MC-123-24" in said(refused)
    assert json_lines(["outbox", "list"], home) == []  # nothing was sent


def test_send_linked_to_a_measure_of_another_state_warns_and_sends(home: Path) -> None:
    assert invoke([*REGISTER, "--state", "OAX"], home).exit_code == 0  # kept in the outbox
    record_outbox(home)
    sent = invoke([*PATROL, "--iachr", "mc-123-24"], home)
    assert sent.exit_code == 0, sent.output
    assert "aviso: MC-123-24 is registered in OAX" in said(sent)  # the warning: bus.domain
    unknown = invoke([*INVESTIGATE, "--iachr", "MC-9-25"], home)
    assert unknown.exit_code == 0 and "sin registrar" in said(unknown)
    assert "aviso" not in said(unknown)
    linked_to = [m.data.iachr_precautionary_measure for m in outbox_messages(home)]
    assert linked_to == ["MC-123-24", "MC-9-25"]


def test_register_refuses_dates_in_the_wrong_order(home: Path) -> None:
    refused = invoke(
        [
            "iachr",
            "register",
            "MC-1-24",
            "--granted",
            "2024-03-12",
            "--notified",
            "2024-03-01",
            "--state",
            "GRO",
        ],
        home,
    )
    assert refused.exit_code == 2 and "before granted_on" in said(refused)
    future = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    later = invoke(
        [
            "iachr",
            "register",
            "MC-1-24",
            "--granted",
            "2024-03-12",
            "--notified",
            future,
            "--state",
            "GRO",
        ],
        home,
    )
    assert later.exit_code == 2 and "in the future" in said(later)
    bad = invoke(
        [
            "iachr",
            "register",
            "MC1-24",
            "--granted",
            "2024-03-12",
            "--notified",
            "2024-03-12",
            "--state",
            "GRO",
        ],
        home,
    )
    assert bad.exit_code == 2 and "no es un número de MC" in said(bad)
    assert json_lines(["outbox", "list"], home) == []


def test_register_list_and_the_agenda_with_both_dates(home: Path) -> None:
    registered = invoke([*REGISTER, "--state", "GRO", "--case", "MPDDHP-2026-0412"], home)
    assert registered.exit_code == 0, registered.output
    assert invoke([*PATROL, "--iachr", "MC-123-24"], home).exit_code == 0
    record_outbox(home)
    [row] = json_lines(["iachr", "list"], home)
    assert row == {
        "measure": "MC-123-24",
        "granted": "2024-03-01",
        "notified": "2024-03-12",
        "state": "GRO",
        "beneficiaries": 1,
        "case": "MPDDHP-2026-0412",
    }
    listed = invoke(["iachr", "list", "--csv"], home).output  # headers in Spanish
    assert listed.startswith("Medida cautelar de la CIDH,Otorgada por la CIDH,Notificada")
    # the days since the notice, counted just before the view and just after it: a view that
    # runs across midnight (UTC) shows one of the two
    days = {(datetime.now(UTC).date() - date(2024, 3, 12)).days}
    agenda = invoke(["agenda", "MPDDHP-2026-0412"], home)
    assert agenda.exit_code == 0, agenda.output
    days.add((datetime.now(UTC).date() - date(2024, 3, 12)).days)
    assert any(str(n) in agenda.output for n in days), agenda.output
    # the instruments may wrap in their cell: "Mecanismo +" over "CIDH"
    for shown in ("MC-123-24", "2024-03-01", "2024-03-12", "Mecanismo +", "CIDH"):
        assert shown in agenda.output, agenda.output
    [item] = json_lines(["agenda", "MPDDHP-2026-0412"], home)  # the items alone
    assert item["instruments"] == "Mecanismo + CIDH MC-123-24"


# The hub is not running in these tests: what `send` kept in the outbox is recorded as the hub
# would record it from the stream.


def test_a_number_recorded_in_the_looser_form_of_before_stays_readable() -> None:
    """Requests could name their MC as any case reference; the ledger may hold such bodies."""
    document = b.patrol_request().model_dump(mode="json", by_alias=True, exclude_none=True)
    document["data"]["iachr_precautionary_measure"] = "MC-123/2021"
    raw = json.dumps(document).encode()
    with pytest.raises(ValidationError, match="write MC-<number"):
        parse_message(raw)  # a new message must use the format
    read = parse_message(raw, recorded=True)
    assert read.data.iachr_precautionary_measure == "MC-123/2021"  # type: ignore[union-attr]
    document["data"]["iachr_precautionary_measure"] = "not a reference"
    with pytest.raises(ValidationError):
        parse_message(json.dumps(document).encode(), recorded=True)


def test_a_state_that_is_not_one_is_refused_not_an_empty_list(home: Path) -> None:
    listed = invoke(["--lang", "en", "iachr", "list", "--state", "Gotham"], home)
    assert listed.exit_code == 2, listed.output
    assert "'Gotham' is not a state of Mexico" in said(listed)
    assert "GRO (Guerrero)" in said(listed)
    for state in ("gro", "Guerrero"):  # its code in any case, or its name
        assert invoke(["iachr", "list", "--state", state, "--json"], home).exit_code == 0
    registered = invoke(["--lang", "en", *REGISTER, "--state", "XYZ"], home)
    assert registered.exit_code == 2, registered.output
    assert "'XYZ' is not a state of Mexico" in said(registered)
    assert json_lines(["outbox", "list"], home) == []
