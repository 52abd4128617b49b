"""Presumed aggressors as staff see them: who is named on a case, by which official role and
when (and when lifted), and which pending lines are addressed to a named agency."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from adapters.ledger.aggressors import named
from adapters.ledger.tables import PresumedAggressorRow
from schemas.registry import active_registry


@dataclass(frozen=True)
class AggressorLine:
    agency: str
    agency_name: str
    set_by: str  # the sending agency's name
    set_by_role: str
    set_at: datetime
    lifted_at: datetime | None
    lifted_by_role: str | None


def case_aggressors(session: Session, case_ref: str) -> list[AggressorLine]:
    """Every naming on the case, in the order made; lifted ones stay, with when."""
    rows = session.exec(
        select(PresumedAggressorRow)
        .where(PresumedAggressorRow.case_ref == case_ref)
        .order_by(col(PresumedAggressorRow.id))
    ).all()
    return [
        AggressorLine(
            agency=row.agency,
            agency_name=_name(row.agency),
            set_by=_name(row.set_by),
            set_by_role=row.set_by_role,
            set_at=row.set_at,
            lifted_at=row.lifted_at,
            lifted_by_role=row.lifted_by_role,
        )
        for row in rows
    ]


def flagged_pairs(session: Session, case_refs: Iterable[str | None]) -> set[tuple[str, str]]:
    """(case, agency) pairs among ``case_refs`` whose agency is named there now."""
    found = named(session, [c for c in case_refs if c])
    return {(case, agency) for case, agencies in found.items() for agency in agencies}


def _name(agency: str) -> str:
    record = active_registry().get(agency)
    return record.name if record is not None else agency
