"""The caseload projection as rows: one table per horizon, open requests per state, the states
whose silence weighs most, one flat table for CSV and one document for JSON. Labels are English
msgids; the dashboard and the command line show them in Spanish from the dashboard's catalogue.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.readmodel.columns import N_
from bus.domain.forecast import Forecast, HorizonProjection, Interval
from schemas.registry import state_name

FIGURES = (
    ("intake", N_("New cases")),
    ("open_cases", N_("Open cases (beneficiaries)")),
    ("federal_load", N_("Federal load (beneficiaries plus the silent states' cases)")),
    ("per_officer", N_("Beneficiaries per officer")),
)
OPEN_REQUESTS = "open_requests"
OPEN_REQUESTS_LABEL = N_("Open requests to the state")
HEADERS = (N_("Low (10 %)"), N_("Median"), N_("High (90 %)"))
CSV_HEADER = ("months", "until", "figure", "state", "low", "median", "high")

# The words around the tables (the command line's and the page's)
TITLE = N_("Caseload projection")
NOT_A_PREDICTION = N_("A projection from the ledger's own history, not a prediction.")
HISTORY_LINE = N_(
    "History: %(weeks)s weeks; %(intake).1f new cases a week; %(closure).1f %% of open cases "
    "close each week; %(open)s open cases today."
)
OFFICERS_LINE = N_(
    "Officers: %(officers)s (from %(source)s); beneficiaries per officer today: %(now).1f"
)
HORIZON_TITLE = N_("In %(months)s months (to %(until)s), 80 %% interval")
STATES_TITLE = N_("Open requests per state: median [10 %, 90 %]")
SILENCE_TITLE = N_("States whose silence weighs most (in 12 months, against the median state)")
TOO_SHORT = N_(
    "The ledger's history is too short to project: at least %(low)s complete weeks are needed."
)
FIGURE = N_("Figure")
STATE = N_("State")
UNANSWERED = N_("Unanswered (%)")
MONTHS = N_("%(months)s months")
EXPECTED_OPEN = N_("Expected open cases")
ADDS = N_("Beneficiaries per officer it adds")


@dataclass(frozen=True)
class FigureRow:
    months: int
    until: datetime
    figure: str  # key
    label: str  # msgid
    state: str  # "" for the whole Mechanism
    interval: Interval

    def csv(self) -> tuple[object, ...]:
        i = self.interval
        return (
            self.months,
            self.until.date().isoformat(),
            self.figure,
            self.state,
            round(i.low, 2),
            round(i.mid, 2),
            round(i.high, 2),
        )


def horizon_rows(horizon: HorizonProjection) -> list[FigureRow]:
    """The Mechanism's figures at one horizon."""
    values = {
        "intake": horizon.intake,
        "open_cases": horizon.open_cases,
        "federal_load": horizon.federal_load,
        "per_officer": horizon.per_officer,
    }
    return [
        FigureRow(horizon.months, horizon.until, key, label, "", values[key])
        for key, label in FIGURES
    ]


def state_rows(horizon: HorizonProjection) -> list[FigureRow]:
    return [
        FigureRow(
            horizon.months,
            horizon.until,
            OPEN_REQUESTS,
            OPEN_REQUESTS_LABEL,
            s.state,
            s.open_requests,
        )
        for s in horizon.states
    ]


def all_rows(result: Forecast) -> list[FigureRow]:
    return [row for h in result.horizons for row in (*horizon_rows(h), *state_rows(h))]


def csv_text(result: Forecast) -> str:
    """Every figure at every horizon, one per line (the command's --csv and the page's CSV)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    writer.writerows(row.csv() for row in all_rows(result))
    return out.getvalue()


def name_of(state: str) -> str:
    try:
        return state_name(state)
    except KeyError:
        return state


def interval_text(interval: Interval, digits: int = 0) -> str:
    """``mid [low, high]``, as the tables show it."""
    return f"{interval.mid:.{digits}f} [{interval.low:.{digits}f}, {interval.high:.{digits}f}]"


@dataclass(frozen=True)
class StateLine:
    """One state across the horizons: its silence and its open requests."""

    state: str
    name: str
    unanswered_pct: float
    open_requests: tuple[Interval, ...]  # one per horizon


def state_lines(result: Forecast) -> list[StateLine]:
    by_state: dict[str, list[Interval]] = {}
    shares: dict[str, float] = {}
    for horizon in result.horizons:
        for s in horizon.states:
            by_state.setdefault(s.state, []).append(s.open_requests)
            shares[s.state] = s.unanswered_share
    return [
        StateLine(code, name_of(code), round(100 * shares[code], 1), tuple(found))
        for code, found in sorted(by_state.items())
    ]


def as_json(result: Forecast) -> dict[str, Any]:
    def interval(i: Interval) -> dict[str, float]:
        return {"low": round(i.low, 2), "median": round(i.mid, 2), "high": round(i.high, 2)}

    return {
        "asof": result.asof.isoformat(),
        "weeks_of_history": result.weeks_of_history,
        "officers": result.officers,
        "interval": "80 % (10th to 90th percentile of the simulated draws)",
        "weekly_intake": round(result.weekly_intake, 3),
        "weekly_closure_rate": round(result.weekly_closure_rate, 5),
        "open_cases_now": result.open_now,
        "beneficiaries_per_officer_now": round(result.per_officer_now, 2),
        "median_unanswered_share": round(result.median_unanswered_share, 4),
        "horizons": [
            {
                "months": h.months,
                "weeks": h.weeks,
                "until": h.until.isoformat(),
                **{
                    key: interval(row.interval)
                    for key, row in zip((k for k, _ in FIGURES), horizon_rows(h), strict=True)
                },
                "states": [
                    {
                        "state": s.state,
                        "name": name_of(s.state),
                        "unanswered_share": round(s.unanswered_share, 4),
                        "open_cases": interval(s.open_cases),
                        "open_requests": interval(s.open_requests),
                    }
                    for s in h.states
                ],
            }
            for h in result.horizons
        ],
        "silence": [
            {
                "state": s.state,
                "name": name_of(s.state),
                "unanswered_share": round(s.unanswered_share, 4),
                "expected_open_cases": round(s.expected_open_cases, 2),
                "per_officer_change": round(s.per_officer_change, 3),
            }
            for s in result.silence
        ],
    }
