"""What the demo reads back from the ledger: the shelters that reported, the answers to one
request, and which of a scenario's expectations the ledger does not show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from adapters.ledger.federal import obligation_from_row
from adapters.ledger.tables import (
    CommitmentRow,
    EscalationRow,
    FederalObligationRow,
    RecipientRow,
    ShelterCapacityRow,
)
from bus.domain.federal_clocks import Standing
from bus.domain.legal_limit import beyond
from schemas.tracking import EscalationLevel

if TYPE_CHECKING:  # the scenario is the demo's; only its expectations are read here
    from adapters.service.scenario import Expectations


def reporting_shelters(session: Session) -> set[str]:
    """Every shelter whose capacity the ledger holds."""
    return set(session.exec(select(ShelterCapacityRow.shelter)))


def recipient_statuses(session: Session, request_id: str) -> dict[str, str]:
    """Each recipient of the request and where its answer stands, in the request's order."""
    rows = session.exec(
        select(RecipientRow)
        .where(RecipientRow.request_id == request_id)
        .order_by(col(RecipientRow.position))
    )
    return {r.agency: r.status for r in rows}


def unmet_expectations(expect: Expectations, ids: dict[str, str], session: Session) -> list[str]:
    """The expectations (as the demo words them) that the ledger does not show for the requests
    ``ids`` (scenario label -> request id)."""
    rows = list(
        session.exec(select(RecipientRow).where(col(RecipientRow.request_id).in_(ids.values())))
    )
    by_agency: dict[str, list[RecipientRow]] = {}
    for row in rows:
        by_agency.setdefault(row.agency, []).append(row)
    laddered = set(
        session.exec(
            select(EscalationRow.agency).where(
                EscalationRow.level == EscalationLevel.MONTHLY_REPORT.value
            )
        )
    )
    unmet = []
    for agency in expect.acknowledged:
        if not by_agency.get(agency) or any(r.acknowledged_at is None for r in by_agency[agency]):
            unmet.append(f"{agency} acknowledged")
    for agency in expect.declined:
        if not any(r.status == "declined" for r in by_agency.get(agency, [])):
            unmet.append(f"{agency} declined")
    for agency in expect.escalated:
        if agency not in laddered:
            unmet.append(f"{agency} climbed the whole escalation ladder")
    for label, shelter in expect.placed.items():
        placed = [r for r in rows if r.request_id == ids.get(label) and r.agency == shelter]
        if not placed or placed[0].status not in ("placed", "arrived"):
            unmet.append(f"{label} placed with {shelter}")
    commitments = list(
        session.exec(select(CommitmentRow).where(col(CommitmentRow.request_id).in_(ids.values())))
    )
    for wanted, agencies in (
        ("fulfilled", expect.fulfilled),
        ("partially_fulfilled", expect.partially_fulfilled),
    ):
        for agency in agencies:
            made = [c for c in commitments if c.agency == agency]
            if not made or any(c.status != wanted for c in made):
                unmet.append(f"{agency} {wanted.replace('_', ' ')} its commitments")
    for agency in expect.beyond_legal_limit:
        if not any(c.agency == agency and beyond(c.due, c.legal_limit) for c in commitments):
            unmet.append(f"{agency} committed beyond the legal limit (flagged)")
    return unmet + _federal_unmet(expect, session, datetime.now(UTC))


def _federal_unmet(expect: Expectations, session: Session, now: datetime) -> list[str]:
    """The Mechanism's own clocks the scenario expects met on time, or missed."""
    rows = session.exec(select(FederalObligationRow))
    standing = {
        f"{row.case_ref}:{row.clock}": obligation_from_row(row).standing(now) for row in rows
    }
    unmet = [
        f"the Mechanism met {key} on time"
        for key in expect.federal_on_time
        if standing.get(key) is not Standing.ON_TIME
    ]
    missed = (Standing.LATE, Standing.OVERDUE)
    unmet += [
        f"the Mechanism missed {key} (late or overdue)"
        for key in expect.federal_missed
        if standing.get(key) not in missed
    ]
    return unmet
