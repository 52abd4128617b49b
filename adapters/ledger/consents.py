"""The beneficiaries' consent to invite authorities to the Board, as the ledger keeps it: a
history per case, whose latest record is in force."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from adapters.ledger.tables import BoardConsentRow
from bus.domain.board import Consent
from bus.domain.ports import ConsentRecord


def consent_row(record: ConsentRecord) -> BoardConsentRow:
    return BoardConsentRow(
        case_ref=record.case_ref,
        given=record.given,
        agencies=" ".join(record.agencies),
        recorded_by=record.recorded_by,
        message_id=record.message_id,
        recorded_at=record.recorded_at,
    )


def consents_for(session: Session, case_refs: Iterable[str]) -> dict[str, Consent]:
    """The consent in force for each of ``case_refs`` that has one (recorded order: the
    later row wins)."""
    wanted = sorted(set(case_refs))
    found: dict[str, Consent] = {}
    for start in range(0, len(wanted), 500):
        rows = session.exec(
            select(BoardConsentRow)
            .where(col(BoardConsentRow.case_ref).in_(wanted[start : start + 500]))
            .order_by(col(BoardConsentRow.id))
        )
        for row in rows:
            found[row.case_ref] = Consent(row.case_ref, row.given, frozenset(row.agencies.split()))
    return found
