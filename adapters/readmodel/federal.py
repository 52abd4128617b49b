"""The Mechanism's own obligations, for staff: the open ones with their clock, basis and how
overdue, and the per-unit scores of the scorecard and the monthly report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from adapters.ledger.federal import obligation_from_row
from adapters.ledger.tables import FederalObligationRow
from bus.domain.federal_clocks import FederalObligation
from bus.domain.federal_scorecard import UnitScore, unit_scores
from bus.domain.policy import Policy
from schemas.registry import active_registry


def unit_name(unit: str) -> str:
    agency = active_registry().get(unit)
    return agency.name if agency is not None else unit


@dataclass(frozen=True)
class FederalLine:
    """One obligation of the Mechanism, as the lists show it."""

    case_ref: str
    clock: str
    owner: str
    unit: str  # the owner's official name
    urgency: str
    basis: str  # the articles (or the Mechanism's reason) behind the clock
    decision_id: str
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    standing: str
    overdue_hours: float  # negative: still within the deadline

    @classmethod
    def of(cls, ob: FederalObligation, now: datetime, policy: Policy) -> FederalLine:
        assert ob.started_at is not None and ob.due_at is not None
        end = ob.met_at or now
        return cls(
            ob.case_ref,
            ob.clock.value,
            ob.owner,
            unit_name(ob.owner),
            ob.urgency.value if ob.urgency else "",
            policy.clocks[ob.clock].basis,
            ob.decision_id,
            ob.started_at,
            ob.due_at,
            ob.met_at,
            ob.standing(now).value,
            round((end - ob.due_at).total_seconds() / 3600, 2),
        )


def federal_lines(
    session: Session,
    now: datetime,
    policy: Policy,
    *,
    unit: str | None = None,
    everything: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[FederalLine]:
    """Open obligations (all started ones with ``everything``), most overdue first."""
    query = select(FederalObligationRow).where(col(FederalObligationRow.started_at).is_not(None))
    if not everything:
        query = query.where(col(FederalObligationRow.met_at).is_(None))
    if unit is not None:
        query = query.where(FederalObligationRow.owner == unit)
    query = query.order_by(col(FederalObligationRow.due_at), col(FederalObligationRow.id))
    rows = session.exec(query.offset(offset).limit(limit))
    return [FederalLine.of(obligation_from_row(row), now, policy) for row in rows]


@dataclass(frozen=True)
class UnitLine:
    """A unit's score with its name, for the scorecard and the report."""

    score: UnitScore
    name: str


def obligation_ids(session: Session) -> list[str]:
    """Every federal obligation's id: the ladder's rungs name the obligation by it."""
    return list(session.exec(select(FederalObligationRow.obligation_id)).all())


def federal_scores(
    session: Session, *, asof: datetime, since: datetime | None = None
) -> list[UnitLine]:
    """Per unit, the obligations started in [since, asof], as they stood at ``asof``."""
    query = select(FederalObligationRow).where(col(FederalObligationRow.started_at) <= asof)
    if since is not None:
        query = query.where(col(FederalObligationRow.started_at) >= since)
    obligations = [obligation_from_row(row) for row in session.exec(query)]
    return [UnitLine(s, unit_name(s.unit)) for s in unit_scores(obligations, asof)]


def _hours(value: float | None) -> str:
    return "n/d" if value is None else f"{value:.1f}"


def report_section(session: Session, *, since: datetime, asof: datetime) -> list[str]:
    """The monthly report's section on the Mechanism's own clocks (Markdown, in Spanish)."""
    lines = [
        "## Plazos del propio Mecanismo",
        "",
        "La ley fija plazos a la federación (LPPDDHP arts. 26, 27 y 29 fr. I); el registro la "
        "mide con el mismo rigor que a los estados. Obligaciones iniciadas en el mes.",
        "",
        "| Unidad | Iniciadas | Cumplidas a tiempo | Cumplidas tarde | Abiertas "
        "| Vencidas abiertas | Mediana horas al cumplimiento |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for line in federal_scores(session, asof=asof, since=since):
        s = line.score
        lines.append(
            f"| {line.name} | {s.started} | {s.on_time} | {s.late} | {s.open} | {s.overdue} "
            f"| {_hours(s.median_hours_to_meet)} |"
        )
    return [*lines, ""]
