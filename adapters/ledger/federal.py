"""What a unit of work records of the Mechanism's own obligations (``federal_obligations``),
on the ORM: a few rows a case, read and written together within one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from adapters.ledger.tables import FederalObligationRow, RequestRow
from bus.domain.federal import MECHANISM
from bus.domain.federal_clocks import CaseRequest, FederalObligation
from bus.domain.lifecycle import RequestState
from bus.domain.policy import Clock
from schemas.envelope import Urgency

# Built once: the hub asks it of every batch (see adapters.ledger.unit on prebuilt statements).
_OF_CASES = select(FederalObligationRow).where(
    col(FederalObligationRow.case_ref).in_(bindparam("cases", expanding=True))
)


class FederalRecords:
    """The ``bus.domain.ports.LedgerUnit`` methods on federal obligations; ``SqlUnit`` has them."""

    session: Session
    _new_requests: dict[str, RequestState]  # requests first recorded in this unit
    # By case, then obligation id: read once per unit, so that two messages on one case in
    # one batch see each other's work.
    _federal: dict[str, dict[str, FederalObligationRow]]

    def _federal_rows(self, case_ref: str) -> dict[str, FederalObligationRow]:
        cache = self._federal
        if case_ref not in cache:
            with self.session.no_autoflush:
                rows = self.session.exec(
                    select(FederalObligationRow).where(FederalObligationRow.case_ref == case_ref)
                )
                cache[case_ref] = {row.obligation_id: row for row in rows}
        return cache[case_ref]

    def expect_cases(self, case_refs: Iterable[str]) -> None:
        """Read the obligations of every case a batch names in one query (most have none)."""
        wanted = sorted(set(case_refs) - self._federal.keys())
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for case_ref in chunk:
                self._federal[case_ref] = {}
            with self.session.no_autoflush:
                rows = self.session.exec(_OF_CASES, params={"cases": chunk})
                for row in rows:
                    self._federal[row.case_ref][row.obligation_id] = row

    def federal_obligations(self, case_ref: str) -> list[FederalObligation]:
        return [obligation_from_row(r) for r in self._federal_rows(case_ref).values()]

    def case_requests(self, case_ref: str) -> list[CaseRequest]:
        with self.session.no_autoflush:
            rows = self.session.exec(
                select(
                    RequestRow.request_id, RequestRow.type, RequestRow.urgency, RequestRow.sent_at
                )
                .where(RequestRow.case_ref == case_ref, RequestRow.source == MECHANISM)
                .order_by(col(RequestRow.sent_at))
            ).all()
        found = [CaseRequest(rid, kind, Urgency(urgency), at) for rid, kind, urgency, at in rows]
        found.extend(
            CaseRequest(s.request_id, s.type, s.urgency, s.sent_at)
            for s in self._new_requests.values()
            if s.case_ref == case_ref and s.source == MECHANISM
        )
        return found

    def save_federal_obligation(self, obligation: FederalObligation) -> None:
        rows = self._federal_rows(obligation.case_ref)
        fields = obligation_fields(obligation)
        row = rows.get(obligation.obligation_id)
        if row is None:
            row = FederalObligationRow(**fields)
            self.session.add(row)
            rows[obligation.obligation_id] = row
            return
        for name, value in fields.items():
            setattr(row, name, value)


def obligation_fields(ob: FederalObligation) -> dict[str, Any]:
    return {
        "obligation_id": ob.obligation_id,
        "case_ref": ob.case_ref,
        "clock": ob.clock.value,
        "owner": ob.owner,
        "decision_id": ob.decision_id,
        "urgency": ob.urgency.value if ob.urgency else None,
        "state": ob.state,
        "started_at": ob.started_at,
        "due_at": ob.due_at,
        "met_at": ob.met_at,
        "started_by": ob.started_by,
        "met_by": ob.met_by,
    }


def obligation_from_row(row: FederalObligationRow) -> FederalObligation:
    return FederalObligation(
        row.obligation_id,
        row.case_ref,
        Clock(row.clock),
        row.owner,
        row.decision_id,
        Urgency(row.urgency) if row.urgency else None,
        row.state,
        row.started_at,
        row.due_at,
        row.met_at,
        row.started_by,
        row.met_by,
    )
