"""The caseload projection: synthetic histories with known answers, and the history the read
model counts from a ledger with a known past (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.ledger.store import SqlLedger
from adapters.readmodel.forecast import forecast_history
from bus.domain.forecast import (
    ForecastRefused,
    History,
    StateFacts,
    WeekFacts,
    forecast,
)
from tests import forecast_history as known

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def steady(weeks: int, new: int, closed_share: float = 0.0, open_at_start: int = 0) -> History:
    """``new`` cases a week; each week ``closed_share`` of the cases open at its start close."""
    facts, open_now = [], open_at_start
    for k in range(weeks):
        closed = round(open_now * closed_share)
        open_now += new - closed
        facts.append(WeekFacts(T0 + timedelta(weeks=k), new, closed, open_now))
    return History(T0 + timedelta(weeks=weeks), open_at_start, tuple(facts))


def state(code: str, open_cases: int, due: int, unanswered: int) -> StateFacts:
    return StateFacts(code, open_cases, open_cases, open_cases, open_cases, due, unanswered)


def test_a_steady_intake_with_no_closures_adds_a_year_of_cases() -> None:
    history = steady(30, 5)
    result = forecast(history, officers=1)
    months = {h.months: h for h in result.horizons}
    assert result.weekly_intake == 5 and result.weekly_closure_rate == 0
    assert months[12].intake.contains(5 * 52)
    assert months[12].open_cases.contains(150 + 5 * 52)
    assert abs(months[12].open_cases.mid - (150 + 5 * 52)) < 15
    assert months[3].open_cases.contains(150 + 5 * 13)
    assert months[3].intake.width < months[6].intake.width < months[12].intake.width
    assert months[3].open_cases.width < months[12].open_cases.width
    assert result.path[12].contains(150 + 5 * 13) and len(result.path) == 52


@pytest.mark.parametrize(
    ("rate", "weeks"),
    [(0.1, 13), (0.1, 52), (0.02, 26)],
)
def test_cases_close_at_the_observed_rate(rate: float, weeks: int) -> None:
    history = steady(20, 0, closed_share=rate, open_at_start=2000)
    result = forecast(history, officers=10)
    observed = result.weekly_closure_rate
    assert abs(observed - rate) < 0.005
    horizon = next(h for h in result.horizons if h.weeks == weeks)
    expected = history.open_now * (1 - observed) ** weeks
    assert horizon.open_cases.contains(expected)
    assert horizon.per_officer.contains(expected / 10)


def test_the_state_that_answers_nothing_moves_the_federal_figure_most() -> None:
    base = steady(12, 4)
    history = History(
        base.asof,
        base.open_at_start,
        base.weeks,
        (
            state("GRO", 20, due=20, unanswered=2),
            state("OAX", 20, due=20, unanswered=4),
            state("TAM", 10, due=10, unanswered=10),
            state("CHH", 30, due=30, unanswered=3),
        ),
        cases_in_history=48,
    )
    result = forecast(history, officers=2)
    assert result.silence[0].state == "TAM"
    changes = [s.per_officer_change for s in result.silence]
    assert changes == sorted(changes, reverse=True) and changes[0] > 0
    assert result.median_unanswered_share == pytest.approx(0.15)
    twelve = result.horizons[-1]
    assert twelve.federal_load.mid > twelve.open_cases.mid  # silence adds to the load
    tam = next(s for s in twelve.states if s.state == "TAM")
    assert tam.unanswered_share == 1.0 and tam.open_requests.low <= tam.open_requests.high


@pytest.mark.parametrize(
    ("weeks", "officers", "says"),
    [(0, 5, "0 complete week"), (3, 5, "at least 4"), (10, 0, "officers"), (10, -2, "officers")],
)
def test_refused(weeks: int, officers: int, says: str) -> None:
    with pytest.raises(ForecastRefused, match=says) as refused:
        forecast(steady(weeks, 5), officers=officers)
    assert refused.value.code == "forecast_refused"


def test_the_same_history_and_seed_give_the_same_figures() -> None:
    history = steady(10, 3, closed_share=0.05, open_at_start=40)
    assert forecast(history, 3, seed=7) == forecast(history, 3, seed=7)
    assert forecast(history, 3, seed=7).horizons != forecast(history, 3, seed=8).horizons


def test_the_ledger_gives_the_weekly_intake_and_the_unanswered_shares(ledger: SqlLedger) -> None:
    known.fill(ledger)
    with ledger.session() as session:
        history = forecast_history(session, now=known.NOW, weeks=26)
        short = forecast_history(session, now=known.NOW, weeks=4)
    assert len(history.weeks) == known.WEEKS  # never before the first request
    assert [w.new_cases for w in history.weeks] == list(known.INTAKE)
    assert [w.closed_cases for w in history.weeks] == [
        known.CLOSED_IN_WEEK.get(k, 0) for k in range(known.WEEKS)
    ]
    assert history.open_at_start == 0 and history.open_now == sum(known.INTAKE) - 1
    shares = {s.state: s.unanswered_share for s in history.states}
    assert shares == {"GRO": 0.0, "TAM": 1.0}
    gro = next(s for s in history.states if s.state == "GRO")
    assert (gro.open_cases, gro.open_requests, gro.due) == (7, 7, 8)
    # four weeks back: the cases of the first two weeks were open before it began
    assert [w.new_cases for w in short.weeks] == list(known.INTAKE[2:])
    assert short.open_at_start == 3 and short.open_now == history.open_now
    result = forecast(history, officers=2)
    assert result.silence[0].state == "TAM"


def test_an_empty_ledger_gives_no_weeks(ledger: SqlLedger) -> None:
    with ledger.session() as session:
        history = forecast_history(session, now=known.NOW, weeks=26)
    assert history.weeks == () and history.states == ()
    with pytest.raises(ForecastRefused, match="too short"):
        forecast(history, officers=1)
