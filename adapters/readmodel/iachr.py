"""IACHR precautionary measures as the ledger holds them: the list, one MC, and those a case's
requests are linked to, for its implementation agenda."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, col, or_, select

from adapters.i18n import gettext
from adapters.ledger.tables import IachrMeasureRow, RequestRow
from adapters.readmodel.columns import N_, Col, pick, table, terminal
from bus.domain.iachr import LinkedMeasure, MeasureDates, linked
from schemas.iachr import is_mc


def _dates(row: IachrMeasureRow) -> MeasureDates:
    return MeasureDates(
        row.measure, row.granted_on, row.notified_on, row.state, row.beneficiaries, row.case_ref
    )


def iachr_measures(
    session: Session, state: str | None = None, limit: int | None = None, offset: int = 0
) -> list[MeasureDates]:
    """Every registered MC, most recently notified first."""
    query = select(IachrMeasureRow)
    if state:
        query = query.where(IachrMeasureRow.state == state)
    query = query.order_by(col(IachrMeasureRow.notified_on).desc(), col(IachrMeasureRow.measure))
    return [_dates(r) for r in session.exec(query.limit(limit).offset(offset))]


def iachr_measure(session: Session, measure: str) -> MeasureDates | None:
    row = session.get(IachrMeasureRow, measure)
    return _dates(row) if row is not None else None


def case_measures(session: Session, case_ref: str, now: datetime) -> list[LinkedMeasure]:
    """The MCs a case's implementation meeting also follows: those its requests name, those
    registered for it, and the case itself when its reference is an MC number."""
    named = {
        mc
        for mc in session.exec(
            select(RequestRow.iachr_precautionary_measure).where(RequestRow.case_ref == case_ref)
        )
        if mc
    }
    registered = {
        row.measure: _dates(row)
        for row in session.exec(
            select(IachrMeasureRow).where(
                or_(
                    col(IachrMeasureRow.case_ref) == case_ref,
                    col(IachrMeasureRow.measure).in_(sorted(named | {case_ref})),
                )
            )
        )
    }
    measures = named | registered.keys() | ({case_ref} if is_mc(case_ref) else set())
    return linked(measures, registered, now.date())


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


MEASURES_COLUMNS = table(
    Col("measure", N_("IACHR measure"), lambda m: m.measure),
    Col("granted", N_("Granted by the IACHR"), lambda m: _iso(m.granted_on)),
    Col("notified", N_("Notified to SEGOB by the SRE"), lambda m: _iso(m.notified_on)),
    Col("state", N_("State"), lambda m: m.state),
    Col("beneficiaries", N_("Beneficiaries"), lambda m: m.beneficiaries, "num"),
    Col("case", N_("Case"), lambda m: m.case_ref, "case"),
)
MEASURES_CLI = terminal(MEASURES_COLUMNS, *MEASURES_COLUMNS)

LINKED_COLUMNS = table(
    Col("measure", N_("IACHR measure"), lambda m: m.measure),
    Col("granted", N_("Granted by the IACHR"), lambda m: _iso(m.granted_on)),
    Col("notified", N_("Notified to SEGOB by the SRE"), lambda m: _iso(m.notified_on)),
    Col("days_since_notice", N_("Days since the notice"), lambda m: m.days_since_notice, "num"),
    Col("state", N_("State"), lambda m: m.state),
)
LINKED = pick(LINKED_COLUMNS, *LINKED_COLUMNS)
UNREGISTERED = N_("not registered")  # an MC a request names that nobody registered yet
LINKED_CLI = terminal(
    LINKED_COLUMNS,
    *LINKED_COLUMNS,
    granted=lambda m: _iso(m.granted_on) if m.registered else gettext(UNREGISTERED),
)
