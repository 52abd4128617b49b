"""The sweeper's view of the ledger: what is owed past its deadline, and what already fired."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlmodel import Session, col, select

from adapters.ledger.aggressors import named
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import (
    BoardSessionRow,
    CommitmentRow,
    EscalationRow,
    RecipientRow,
    RequestRow,
)
from bus.domain.ladder import BoardSession, Obligation
from bus.domain.lifecycle import OPEN_COMMITMENT, UNANSWERED, RecipientStatus
from bus.domain.policy import LADDER, Clock
from bus.domain.rules import answer_clock
from schemas.envelope import Urgency
from schemas.registry import active_registry
from schemas.tracking import EscalationLevel

_Key = tuple[str, str, str, str]


class SqlObligations:
    """Implements ``bus.domain.ports.SweepSource`` over the SQL ledger."""

    def __init__(self, ledger: SqlLedger) -> None:
        self.ledger = ledger

    def open_obligations(self, now: datetime) -> list[Obligation]:
        with Session(self.ledger.engine) as session:
            found = [
                *self._unacknowledged(session, now),
                *self._unanswered(session, now),
                *self._overdue_commitments(session, now),
            ]
            fired = self._fired(session, {_key(ob) for ob in found})
            flagged = named(session, {ob.case_ref for ob in found if ob.case_ref})
        result = []
        for ob in found:
            levels = fired.get(_key(ob), frozenset())
            if len(levels) < len(LADDER):
                result.append(
                    Obligation(
                        ob.request_id,
                        ob.agency,
                        ob.clock,
                        ob.started_at,
                        ob.due_at,
                        ob.urgency,
                        ob.case_ref,
                        ob.commitment_id,
                        levels,
                        flagged.get(ob.case_ref or "", frozenset()),
                    )
                )
        return result

    def _unacknowledged(self, session: Session, now: datetime) -> list[Obligation]:
        rows = session.exec(
            select(RecipientRow, RequestRow.case_ref)
            .join(RequestRow, col(RequestRow.request_id) == col(RecipientRow.request_id))
            .where(col(RecipientRow.status).in_([s.value for s in UNANSWERED]))
            .where(col(RecipientRow.ack_due_at) <= now)
        )
        return [
            _recipient_obligation(r, case_ref, Clock.ACKNOWLEDGEMENT, r.ack_due_at)
            for r, case_ref in rows
        ]

    def _unanswered(self, session: Session, now: datetime) -> list[Obligation]:
        rows = session.exec(
            select(RecipientRow, RequestRow.case_ref)
            .join(RequestRow, col(RequestRow.request_id) == col(RecipientRow.request_id))
            .where(RecipientRow.status == RecipientStatus.ACKNOWLEDGED.value)
            .where(col(RecipientRow.answer_due_at) <= now)
        )
        registry = active_registry()
        return [
            _recipient_obligation(r, case_ref, answer_clock(r.agency, registry), r.answer_due_at)
            for r, case_ref in rows
        ]

    def _overdue_commitments(self, session: Session, now: datetime) -> list[Obligation]:
        rows = session.exec(
            select(CommitmentRow, RequestRow.case_ref, RequestRow.urgency)
            .join(RequestRow, col(RequestRow.request_id) == col(CommitmentRow.request_id))
            .where(col(CommitmentRow.status).in_([s.value for s in OPEN_COMMITMENT]))
            .where(col(CommitmentRow.due) <= now)
        )
        return [
            Obligation(
                c.request_id,
                c.agency,
                Clock.IMPLEMENTATION,
                c.made_at,
                c.due,
                Urgency(urgency),
                case_ref,
                c.commitment_id,
            )
            for c, case_ref, urgency in rows
        ]

    def _fired(self, session: Session, keys: set[_Key]) -> dict[_Key, frozenset[EscalationLevel]]:
        if not keys:
            return {}
        request_ids = sorted({k[0] for k in keys})
        fired: dict[_Key, set[EscalationLevel]] = defaultdict(set)
        for start in range(0, len(request_ids), 500):
            rows = session.exec(
                select(EscalationRow).where(
                    col(EscalationRow.request_id).in_(request_ids[start : start + 500])
                )
            )
            for row in rows:
                key = (row.request_id, row.agency, row.clock, row.commitment_key)
                if key in keys:
                    fired[key].add(EscalationLevel(row.level))
        return {k: frozenset(v) for k, v in fired.items()}

    def fired(self, obligation: Obligation) -> frozenset[EscalationLevel]:
        with Session(self.ledger.engine) as session:
            return self._fired(session, {_key(obligation)}).get(_key(obligation), frozenset())

    def still_owed(self, obligation: Obligation) -> bool:
        with Session(self.ledger.engine) as session:
            if obligation.commitment_id is not None:
                status = session.exec(
                    select(CommitmentRow.status).where(
                        CommitmentRow.request_id == obligation.request_id,
                        CommitmentRow.commitment_id == obligation.commitment_id,
                    )
                ).first()
                return status in {s.value for s in OPEN_COMMITMENT}
            status = session.exec(
                select(RecipientRow.status).where(
                    RecipientRow.request_id == obligation.request_id,
                    RecipientRow.agency == obligation.agency,
                )
            ).first()
        if obligation.clock is Clock.ACKNOWLEDGEMENT:
            return status in {s.value for s in UNANSWERED}
        return status == RecipientStatus.ACKNOWLEDGED.value

    def next_board_session(self, now: datetime) -> BoardSession | None:
        with Session(self.ledger.engine) as session:
            row = session.exec(
                select(BoardSessionRow)
                .where(col(BoardSessionRow.scheduled_at) > now)
                .order_by(col(BoardSessionRow.scheduled_at))
            ).first()
        return BoardSession(row.session_id, row.scheduled_at) if row else None


def _key(ob: Obligation) -> _Key:
    return (ob.request_id, ob.agency, ob.clock.value, ob.commitment_id or "")


def _recipient_obligation(
    row: RecipientRow, case_ref: str | None, clock: Clock, due: datetime | None
) -> Obligation:
    assert row.sent_at is not None and due is not None
    return Obligation(
        row.request_id, row.agency, clock, row.sent_at, due, Urgency(row.urgency), case_ref
    )
