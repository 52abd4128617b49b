"""The scorecard read from the per-day figures (``scorecard_periods``) gives the very figures the
scorecard gave when it aggregated every request (``tests/scorecard_rows.py``), for months, all
time and moments inside a day, on SQLite and PostgreSQL; the figures kept message by message
are those ``rebuild`` derives from the rows, and the command that rebuilds them says so."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import delete, select

from adapters.ledger import aggregates
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import scorecard_periods
from adapters.readmodel.scorecard import state_scores, state_scores_from_facts
from bus.domain import subjects
from bus.domain.policy import Policy
from bus.domain.ports import Delivery
from bus.domain.recording import record_batch
from bus.domain.rules import Rules
from tests import builders as b
from tests.cli_processes import run
from tests.ledgers import upgraded_ledger
from tests.scorecard_rows import state_scores_by_rows

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 75  # January to mid-March, so that March is a month still going
END = START + timedelta(days=DAYS)
RULES = Rules(b.REGISTRY, Policy.load())
GOVERNMENTS = ("gro.government", "ver.government", "oax.government")
PROSECUTORS = ("gro.prosecutor", "ver.prosecutor", "oax.prosecutor")


def _at(message: Any, when: datetime) -> Any:
    return message.model_copy(update={"time": when})


def _script(seed: int, requests: int) -> list[tuple[datetime, Any]]:
    """Requests across three states, two kinds and six ways of answering, with every answer
    at its own moment: on time, late, never, recalled, declined, kept or not kept."""
    rng = random.Random(seed)
    events: list[tuple[datetime, Any]] = []
    for i in range(requests):
        sent = START + timedelta(hours=rng.uniform(0, DAYS * 24 - 200))
        urgency = "urgent" if i % 3 == 0 else "ordinary"
        if i % 2:
            agency = GOVERNMENTS[i % 3]
            request: Any = b.patrol_request(agency, at=sent, urgency=urgency)
        else:
            agency = PROSECUTORS[i % 3]
            request = b.investigation_request(agency, at=sent, urgency=urgency)
        rid = request.id
        events.append((sent, request))
        profile = i % 7
        ack = sent + timedelta(hours=rng.choice((0.2, 0.9, 3.5, 11, 30, 60)))

        def then(hours: float, message: Any, sent: datetime = sent) -> None:
            when = sent + timedelta(hours=hours)
            events.append((when, _at(message, when)))

        if profile == 2:  # never acknowledged
            continue
        if profile == 3:  # recalled, before or after its acknowledgement was due
            then(rng.choice((0.5, 40)), b.recall(rid, to=agency))
            continue
        waited = (ack - sent).total_seconds() / 3600
        then(waited, b.acknowledgement(rid, agency, ack))
        if profile == 4:
            then(waited + 1, b.decline(rid, agency))
            continue
        then(waited + 0.5, b.acceptance(rid, agency))
        due = ack + timedelta(days=rng.choice((1, 3, 10)))
        then(waited + 0.6, b.commitment(rid, "C1", agency, due=due, at=ack))
        ending = rng.choice((b.fulfilled, b.partly_fulfilled, b.withdrawn, None))
        if ending is not None:
            then(waited + 0.5 + 24 * rng.choice((0.5, 2, 6, 12)), ending(rid, "C1", agency))
    return sorted(events, key=lambda event: event[0])


def _record(ledger: SqlLedger, events: list[tuple[datetime, Any]]) -> None:
    """One transaction a day, each message at its own moment, as the hub records the stream."""
    by_day: dict[Any, list[tuple[datetime, Any]]] = defaultdict(list)
    for when, message in events:
        by_day[when.date()].append((when, message))
    seq = 0
    for day in sorted(by_day):
        deliveries = []
        for when, message in by_day[day]:
            seq += 1
            subject = subjects.routes(message, b.REGISTRY)[0][0]
            deliveries.append(Delivery(subject, message.to_json(), seq, stored_at=when))
        outcomes = record_batch(ledger, deliveries, None, RULES)
        assert all(o.result.value == "recorded" for o in outcomes), outcomes


@pytest.fixture
def recorded(ledger_url: str) -> Iterator[SqlLedger]:
    ledger = upgraded_ledger(ledger_url)
    try:
        _record(ledger, _script(seed=18, requests=160))
        yield ledger
    finally:
        ledger.close()


def _periods() -> list[tuple[datetime, datetime | None]]:
    """(asof, since): each month and all time as of its end and inside a day, the last 30
    days from a moment that is no midnight, a moment before anything was answered."""
    months = [START, START.replace(month=2), START.replace(month=3), START.replace(month=4)]
    periods: list[tuple[datetime, datetime | None]] = []
    for since, end in pairwise(months):
        periods += [(min(end, END), since), (since + timedelta(days=9, hours=13), since)]
    for asof in (END, START + timedelta(days=20, hours=7, minutes=30), START + timedelta(hours=5)):
        periods += [(asof, None), (asof, asof - timedelta(days=30))]
    periods.append((END + timedelta(days=40), None))  # every commitment settled
    periods.append((START + timedelta(days=3), START + timedelta(days=3)))  # an instant
    return periods


@pytest.mark.postgres
def test_the_day_figures_give_the_figures_of_every_row(recorded: SqlLedger) -> None:
    with recorded.session() as session:
        for asof, since in _periods():
            by_rows = state_scores_by_rows(session, asof=asof, since=since)
            assert state_scores(session, asof=asof, since=since) == by_rows, (asof, since)
        # not only agreeing on nothing: every column has figures to agree on
        scores = state_scores(session, asof=END, since=None)
        assert state_scores_from_facts(session, asof=END) == scores
    assert {s.state for s in scores} == {"GRO", "VER", "OAX"}
    for column in (
        "requests_received",
        "acknowledged_on_time",
        "acknowledgements_due",
        "commitments_due",
        "commitments_kept_on_time",
        "open_overdue",
    ):
        assert all(getattr(s, column) > 0 for s in scores), column
    assert all(s.median_hours_to_acknowledge for s in scores)


@pytest.mark.postgres
def test_a_month_gone_by_reads_its_figures_as_of_its_end(
    recorded: SqlLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The report of January and of February, as of their ends: the same figures as every row
    # gives, with neither the month's requests answered since nor its day and month rows read.
    from adapters.readmodel import day_figures

    months = [(START, START.replace(month=2)), (START.replace(month=2), START.replace(month=3))]
    with recorded.session() as session:
        expected = [state_scores_by_rows(session, asof=end, since=since) for since, end in months]

        def not_read(*_: Any) -> Any:
            raise AssertionError("a month gone by re-read what its figures at its end say")

        monkeypatch.setattr(day_figures, "_changed_after", not_read)
        monkeypatch.setattr(day_figures, "_whole_days", not_read)
        found = [state_scores(session, asof=end, since=since) for since, end in months]
    assert found == expected
    assert all(s.requests_received for scores in found for s in scores)


def _table(ledger: SqlLedger) -> list[tuple[Any, ...]]:
    with ledger.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(select(scorecard_periods)))


@pytest.mark.postgres
def test_the_figures_kept_message_by_message_are_those_rebuilt_from_the_rows(
    recorded: SqlLedger,
) -> None:
    kept = _table(recorded)
    assert len(kept) > 100
    with recorded.session() as session:
        session.execute(delete(scorecard_periods))
        session.commit()
        assert aggregates.rebuild(session) == len(kept)
        session.commit()
    assert _table(recorded) == kept


def test_the_median_is_the_exact_one_from_the_bin_that_holds_it() -> None:
    # seven values in three bins; the median is the fourth, the second of its bin
    bins = [0] * aggregates.HOUR_BINS
    for seconds in (60, 600, 1000, 1100, 1200, 4000, 90_000):
        bins[aggregates.hour_bin(seconds)] += 1
    assert aggregates.middle_ranks(bins) == [(1, 1)]
    assert aggregates.bin_bounds(1) == (900, 1800)
    assert aggregates.bin_bounds(0) == (None, 900)
    assert aggregates.bin_bounds(aggregates.HOUR_BINS - 1) == (336 * 3600, None)
    bins[aggregates.hour_bin(5000)] += 1  # eight: between the fourth and the fifth
    assert aggregates.middle_ranks(bins) == [(1, 1), (1, 2)]
    assert aggregates.middle_ranks([0] * aggregates.HOUR_BINS) == []


@pytest.mark.e2e
def test_rebuild_aggregates_command(tmp_path: Any, english_cli: Any) -> None:
    home = tmp_path / "home"
    ledger = upgraded_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        _record(ledger, _script(seed=7, requests=20))
        kept = _table(ledger)
        with ledger.session() as session:
            session.execute(delete(scorecard_periods))
            session.commit()
    finally:
        ledger.close()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    done = run(["db", "rebuild-aggregates", "--ledger-url", url, "--json"], home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"rows": len(kept)}
    ledger = SqlLedger(url)
    try:
        assert _table(ledger) == kept
    finally:
        ledger.close()


@pytest.mark.postgres
def test_the_migration_fills_the_figures_of_the_rows_recorded_before_it(
    recorded: SqlLedger,
) -> None:
    from alembic import command

    from adapters.ledger.migrate import config, upgrade

    kept = _table(recorded)
    with recorded.engine.begin() as connection:
        command.downgrade(config(connection), "0013")
    upgrade(recorded.engine)
    assert _table(recorded) == kept
