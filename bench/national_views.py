"""Every staff view timed on a ledger: each through the read-model function its CLI command
(or dashboard page) calls, median of ``repeat`` runs, at the simulated year's end."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import MessageRow, RecipientRow
from adapters.readmodel.agency import commitments_of, pending_for
from adapters.readmodel.backlog import owed_by_state
from adapters.readmodel.board import agenda
from adapters.readmodel.cases import case_agenda, case_timeline
from adapters.readmodel.commitments import commitments
from adapters.readmodel.dead_letters import dead_letters
from adapters.readmodel.federal import federal_lines, federal_scores
from adapters.readmodel.forecast import forecast_history
from adapters.readmodel.placements import placements, shelters
from adapters.readmodel.report import write_report
from adapters.readmodel.requests import Filters, pending
from adapters.readmodel.scorecard import state_scores
from adapters.readmodel.search import search
from bus.domain.forecast import DEFAULT_WEEKS, Forecast, ForecastRefused, forecast
from bus.domain.policy import Policy
from schemas.registry import active_registry

OFFICERS = 40  # the forecast's staff: any figure will do, it is the time that is measured


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 2)


def _busiest(session: Session) -> tuple[str, str]:
    """The case with the most messages and the agency owed the most: the heaviest pages."""
    case = session.exec(
        select(MessageRow.case_ref)
        .where(col(MessageRow.case_ref).is_not(None))
        .group_by(col(MessageRow.case_ref))
        .order_by(func.count().desc())
        .limit(1)
    ).one()
    agency = session.exec(
        select(RecipientRow.agency)
        .group_by(col(RecipientRow.agency))
        .order_by(func.count().desc())
        .limit(1)
    ).one()
    return str(case), str(agency)


def _forecast(session: Session, now: datetime) -> Forecast | None:
    """``mechbus forecast``: the history read and projected; a short run's history is refused
    (fewer than 4 weeks), and then its read alone is timed."""
    history = forecast_history(session, now=now, weeks=DEFAULT_WEEKS)
    try:
        return forecast(history, OFFICERS)
    except ForecastRefused:
        return None


def views(
    ledger: SqlLedger, session: Session, now: datetime, out: Path
) -> dict[str, Callable[[], object]]:
    """Name -> the call staff make, as ``mechbus <command>`` (in brackets: its options)."""
    case, agency = _busiest(session)
    state = active_registry()[agency].state
    policy = Policy.load()
    this_month, last_month = f"{now:%Y-%m}", f"{now.replace(day=1) - timedelta(days=1):%Y-%m}"
    return {
        "pending": lambda: pending(session, now, Filters(), 100),
        "pending (--state of the busiest agency)": lambda: pending(
            session, now, Filters(state=state), 100
        ),
        "scorecard, 30 days": lambda: state_scores(
            session, asof=now, since=now - timedelta(days=30)
        ),
        "scorecard, all time": lambda: state_scores(session, asof=now),
        "report, this month": lambda: write_report(session, this_month, out, now),
        "report, last month": lambda: write_report(session, last_month, out, now),
        "case (timeline, busiest case)": lambda: case_timeline(session, case),
        "case agenda (busiest case)": lambda: case_agenda(session, case, now),
        "agency: pending (busiest agency)": lambda: pending_for(ledger, agency, now, 100, 0),
        "agency: commitments (busiest agency)": lambda: commitments_of(ledger, agency, now, 100, 0),
        "overdue commitments": lambda: commitments(session, now, overdue_only=True),
        "search 'amenazas'": lambda: search(session, "amenazas"),
        "search a case number": lambda: search(session, case),
        "forecast (26 weeks)": lambda: _forecast(session, now),
        "backlog by state": lambda: owed_by_state(session),
        "dead letters": lambda: dead_letters(session),
        "shelters": lambda: shelters(session),
        "placements": lambda: placements(session),
        "board agenda": lambda: agenda(session, now, policy.board_cutoff()),
        "federal clocks": lambda: federal_lines(session, now, policy),
        "federal scores, all time": lambda: federal_scores(session, asof=now),
    }


def time_all(ledger: SqlLedger, now: datetime, out: Path, repeat: int = 5) -> list[dict[str, Any]]:
    """Each view's median time in ms and how many lines it gave."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with ledger.session() as session:
        for name, call in views(ledger, session, now, out).items():
            result = call()
            ms = _median_ms(call, repeat)
            lines = len(result) if isinstance(result, list) else None
            rows.append({"view": name, "median_ms": ms, "repeat": repeat, "lines": lines})
            print(f"  {name:<40} {ms:>10.2f} ms", flush=True)
    return rows
