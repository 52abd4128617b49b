"""The legal limit on commitments to implement protection measures: computed in the pure
domain, recorded on both ledgers, and the date the sweeper chases a commitment at."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select
from typer.testing import CliRunner

from adapters.cli import app
from adapters.ledger.migrate import upgrade
from adapters.ledger.obligations import SqlObligations
from adapters.ledger.schema import HEAD
from adapters.ledger.store import make_engine
from adapters.ledger.tables import CommitmentRow, RequestRow
from bus.domain.legal_limit import chased_at, chased_from, legal_limit
from bus.domain.lifecycle import apply
from bus.domain.policy import Policy
from bus.domain.recording import Result, record_batch
from bus.domain.rules import Rules
from schemas.requests import RequestUpdate
from tests import builders as b
from tests.ledgers import upgraded_ledger
from tests.test_recording import Stream

POLICY = Policy.load()
RULES = Rules(b.REGISTRY, POLICY)
H = timedelta(hours=1)
D = timedelta(days=1)
DECIDED = b.T0 - 10 * D


def _measure(urgency: str, decided_at: datetime | None = None) -> object:
    request = b.patrol_request(urgency=urgency)
    if decided_at is None:
        return request
    data = request.data.model_copy(update={"decided_at": decided_at})
    return b.patrol_request(urgency=urgency, data=data)


@pytest.mark.parametrize(
    ("urgency", "decided_at", "expected"),
    [
        ("urgent", None, b.T0 + 9 * H),  # from issuance (the request's time)
        ("urgent", DECIDED, b.T0 + 9 * H),  # the Board does not decide urgent measures
        ("ordinary", None, b.T0 + 30 * D),  # no decision given: from the request's time
        ("ordinary", DECIDED, DECIDED + 30 * D),  # from the Board's decision
        ("ordinary", b.T0 + 5 * D, b.T0 + 30 * D),  # a decision "later" than now lengthens nothing
    ],
)
def test_the_limit_runs_from_issuance_or_from_the_boards_decision(
    urgency: str, decided_at: datetime | None, expected: datetime
) -> None:
    assert legal_limit(_measure(urgency, decided_at), b.T0, POLICY) == expected  # type: ignore[arg-type]


def test_requests_other_than_protection_measures_get_no_limit() -> None:
    assert legal_limit(b.investigation_request(), b.T0, POLICY) is None
    assert legal_limit(b.patrol_request(), b.T0, None) is None  # no policy, no deadlines
    state, _ = apply(None, b.investigation_request(), b.T0, RULES)
    assert state is not None and state.legal_limit is None


def test_a_request_with_time_in_the_future_starts_the_limit_when_recorded() -> None:
    early = b.patrol_request(at=b.T0 + 2 * H)
    assert legal_limit(early, b.T0, POLICY) == b.T0 + 9 * H


@pytest.mark.parametrize(
    ("due", "beyond"),
    [
        (b.T0 + 8 * H, False),  # before the limit
        (b.T0 + 9 * H, False),  # at the limit: the law allows it
        (b.T0 + 9 * H + timedelta(seconds=1), True),  # after it
        (b.T0 + 14 * D, True),  # two weeks for an urgent measure
    ],
)
def test_a_commitment_beyond_the_limit_is_recorded_and_flagged(due: datetime, beyond: bool) -> None:
    request = b.patrol_request()
    state, _ = apply(None, request, b.T0, RULES)
    for message in (b.acknowledgement(request.id), b.acceptance(request.id)):
        state, _ = apply(state, message, b.T0 + H, RULES)
    state, events = apply(state, b.commitment(request.id, due=due, at=b.T0 + H), b.T0 + H, RULES)
    assert state is not None and len(state.commitments) == 1, events
    made = state.commitments[0]
    assert made.legal_limit == b.T0 + 9 * H
    assert made.beyond_legal_limit is beyond


def test_a_commitment_on_a_request_without_a_limit_is_never_flagged() -> None:
    request = b.investigation_request()
    state, _ = apply(None, request, b.T0, RULES)
    by = "gro.prosecutor"
    for message in (b.acknowledgement(request.id, by=by), b.acceptance(request.id, by=by)):
        state, _ = apply(state, message, b.T0 + H, RULES)
    due = b.T0 + 400 * D
    state, _ = apply(state, b.commitment(request.id, by=by, due=due), b.T0 + H, RULES)
    assert state is not None
    assert state.commitments[0].legal_limit is None
    assert not state.commitments[0].beyond_legal_limit


def test_a_second_commitment_keeps_the_requests_limit_and_an_update_does_not_move_it() -> None:
    request = b.patrol_request()
    state, _ = apply(None, request, b.T0, RULES)
    for message in (b.acknowledgement(request.id), b.acceptance(request.id)):
        state, _ = apply(state, message, b.T0 + H, RULES)
    state, _ = apply(state, b.commitment(request.id, "C1", due=b.T0 + 8 * H), b.T0 + H, RULES)
    update = RequestUpdate(
        source="fed.mechanism",
        time=b.T0 + 3 * H,
        recipients=("gro.government",),
        correlation_id=request.id,
        data={"changes": "Se amplía el plazo.", "implement_by": b.T0 + 20 * D},
    )
    state, _ = apply(state, update, b.T0 + 3 * H, RULES)
    again = b.commitment(request.id, "C2", due=b.T0 + 20 * D, at=b.T0 + 4 * H)
    state, _ = apply(state, again, b.T0 + 4 * H, RULES)
    assert state is not None
    second = state.commitment("C2")
    assert second is not None and second.legal_limit == b.T0 + 9 * H
    assert second.beyond_legal_limit
    # the first withdrawn, the second still holds the request open and the limit with it
    state, _ = apply(state, b.withdrawn(request.id, "C1"), b.T0 + 5 * H, RULES)
    assert state is not None and state.closed_at is None
    assert state.legal_limit == b.T0 + 9 * H


@pytest.mark.parametrize(
    ("made", "due", "limit", "start", "chased"),
    [
        (b.T0 + H, b.T0 + 8 * H, b.T0 + 9 * H, b.T0 + H, b.T0 + 8 * H),  # within: unchanged
        (b.T0 + H, b.T0 + 9 * H, b.T0 + 9 * H, b.T0 + H, b.T0 + 9 * H),  # at the limit
        (b.T0 + H, b.T0 + 14 * D, b.T0 + 9 * H, b.T0, b.T0 + 9 * H),  # beyond: the law's clock
        (b.T0 + 10 * H, b.T0 + 14 * D, b.T0 + 9 * H, b.T0, b.T0 + 9 * H),  # made after it
        (b.T0 + H, b.T0 + 400 * D, None, b.T0 + H, b.T0 + 400 * D),  # no limit
    ],
)
def test_the_obligation_is_due_at_the_earlier_of_promise_and_limit(
    made: datetime, due: datetime, limit: datetime | None, start: datetime, chased: datetime
) -> None:
    assert chased_at(due, limit) == chased
    assert chased_from(made, due, limit, b.T0) == start


def _commit_on_ledger(ledger: object, due: datetime, urgency: str = "urgent") -> str:
    stream = Stream()
    request = b.patrol_request(urgency=urgency)
    batch = [
        stream.deliver(request),
        stream.deliver(b.acknowledgement(request.id, at=b.T0 + H)),
        stream.deliver(b.acceptance(request.id, at=b.T0 + H)),
        stream.deliver(b.commitment(request.id, due=due, at=b.T0 + H)),
    ]
    outcomes = record_batch(ledger, batch[:1], b.T0, RULES)  # type: ignore[arg-type]
    outcomes += record_batch(ledger, batch[1:], b.T0 + H, RULES)  # type: ignore[arg-type]
    assert [o.result for o in outcomes] == [Result.RECORDED] * 4
    return request.id


def test_the_limit_is_recorded_on_the_request_and_the_commitment(ledger: object) -> None:
    request_id = _commit_on_ledger(ledger, b.T0 + 14 * D)
    with ledger.session() as s:  # type: ignore[attr-defined]
        assert s.exec(select(RequestRow.legal_limit)).one() == b.T0 + 9 * H
        row = s.exec(select(CommitmentRow)).one()
    assert row.legal_limit == b.T0 + 9 * H and row.due == b.T0 + 14 * D
    # a later message on the request reloads its state with the limit intact
    stream = Stream()
    stream.seq = 10
    late = b.commitment(request_id, "C2", due=b.T0 + 20 * D, at=b.T0 + 2 * H)
    [outcome] = record_batch(ledger, [stream.deliver(late)], b.T0 + 2 * H, RULES)  # type: ignore[arg-type]
    assert outcome.result is Result.RECORDED
    with ledger.session() as s:  # type: ignore[attr-defined]
        limits = s.exec(select(CommitmentRow.legal_limit)).all()
    assert limits == [b.T0 + 9 * H, b.T0 + 9 * H]


@pytest.mark.parametrize(
    ("due", "reminded_from"),
    [(b.T0 + 14 * D, b.T0 + 9 * H), (b.T0 + 5 * H, b.T0 + 5 * H)],
    ids=["beyond", "within"],
)
def test_the_sweeper_finds_a_commitment_overdue_at_its_chased_date(
    ledger: object, due: datetime, reminded_from: datetime
) -> None:
    _commit_on_ledger(ledger, due)
    source = SqlObligations(ledger)  # type: ignore[arg-type]
    assert source.open_obligations(reminded_from - timedelta(seconds=1)) == []
    [owed] = source.open_obligations(reminded_from)
    assert owed.due_at == reminded_from
    assert owed.commitment_id == "C1"


def test_mechbus_commitments_flags_the_commitment_beyond_the_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = upgraded_ledger(url)
    try:
        now = datetime.now(UTC)
        stream = Stream()
        request = b.patrol_request(at=now)
        messages = [
            request,
            b.acknowledgement(request.id, at=now),
            b.acceptance(request.id, at=now),
            b.commitment(request.id, "C-LATE", due=now + 14 * D, at=now),
            b.commitment(request.id, "C-IN-TIME", due=now + 4 * H, at=now),
        ]
        record_batch(ledger, [stream.deliver(m) for m in messages], now, RULES)
    finally:
        ledger.close()
    runner = CliRunner(env={"COLUMNS": "300"})

    def show(*args: str) -> str:
        result = runner.invoke(app, ["commitments", *args, "--ledger-url", url])
        assert result.exit_code == 0, result.output
        return result.stdout

    rows = {r["commitment"]: r for r in map(json.loads, show("--json").splitlines())}
    assert rows["C-LATE"]["flag"] == "beyond the legal limit"
    assert rows["C-IN-TIME"]["flag"] is None
    assert rows["C-LATE"]["legal_limit"] == rows["C-IN-TIME"]["legal_limit"] is not None
    assert datetime.fromisoformat(rows["C-LATE"]["legal_limit"]) == now + 9 * H
    with_csv = list(csv.DictReader(io.StringIO(show("--csv"))))
    assert {r["Compromiso"]: r["Alerta"] for r in with_csv} == {  # in Spanish, for people
        "C-LATE": "fuera del plazo legal",
        "C-IN-TIME": "",
    }
    table = _cells(show())
    flag = table["header"].index("Alerta")
    assert table["C-LATE"][flag] == "fuera del plazo legal"
    assert table["C-IN-TIME"][flag] == "-"


def _cells(table: str) -> dict[str, list[str]]:
    """The table's rows by commitment id (and its header), each cell's wrapped lines joined."""
    header: list[str] = []
    rows: list[list[str]] = []
    for line in table.splitlines():
        if line.startswith("┃"):  # the header: a label may wrap over lines
            cells = [c.strip() for c in line[1:-1].split("┃")]
            if header:
                cells = [f"{a} {b}".strip() for a, b in zip(header, cells, strict=True)]
            header = cells
            continue
        if line[:1] != "│":
            rows.append([])  # a rule: the next line starts a new row
            continue
        cells = [c.strip() for c in line[1:-1].split("│")]
        if rows and rows[-1] and not cells[0]:  # the wrapped continuation of a row
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    return {"header": header, **{r[3]: r for r in rows if r}}


def test_migration_0008_adds_a_nullable_limit_and_keeps_earlier_rows(ledger_url: str) -> None:
    engine = make_engine(ledger_url)
    try:
        upgrade(engine, "0005")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO requests (request_id, type, source, urgency, sent_at)"
                    " VALUES ('R-OLD', 'mech.request.protection_measure.v1', 'fed.mechanism',"
                    " 'urgent', :at)"
                ),
                {"at": b.T0},
            )
        assert upgrade(engine) == HEAD
        for table in ("requests", "commitments"):
            [column] = [c for c in inspect(engine).get_columns(table) if c["name"] == "legal_limit"]
            assert column["nullable"] is True
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT legal_limit FROM requests")).all()
        assert [tuple(k) for k in kept] == [(None,)]  # recorded before the limit: none claimed
    finally:
        engine.dispose()
