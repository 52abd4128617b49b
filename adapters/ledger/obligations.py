"""The sweeper's view of the ledger: what is owed past its deadline, and what already fired."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import case
from sqlmodel import Session, col, select

from adapters.ledger.aggressors import named
from adapters.ledger.consents import consents_for
from adapters.ledger.federal import obligation_from_row
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import (
    BoardSessionRow,
    CommitmentRow,
    EscalationRow,
    FederalObligationRow,
    RecipientRow,
    RequestRow,
)
from bus.domain.board import BoardSession, Consent
from bus.domain.federal_clocks import is_federal
from bus.domain.ladder import Obligation
from bus.domain.legal_limit import chased_at, chased_from
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
                *self._federal_overdue(session, now),
            ]
            fired = self._fired(session, {_key(ob) for ob in found})
            flagged = named(session, {ob.case_ref for ob in found if ob.case_ref})
        result = []
        for ob in found:
            levels = fired.get(_key(ob), frozenset())
            if len(levels) < len(LADDER):
                named_on_case = flagged.get(ob.case_ref or "", frozenset())
                result.append(replace(ob, fired=levels, presumed_aggressors=named_on_case))
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
        # Chased at the earlier of the promised date and the legal limit (bus.domain.legal_limit)
        # (a NULL limit compares as unknown, so the promised date stands)
        chased = case(
            (col(CommitmentRow.legal_limit) < col(CommitmentRow.due), CommitmentRow.legal_limit),
            else_=CommitmentRow.due,
        )
        rows = session.exec(
            select(CommitmentRow, RequestRow.case_ref, RequestRow.urgency, RequestRow.sent_at)
            .join(RequestRow, col(RequestRow.request_id) == col(CommitmentRow.request_id))
            .where(col(CommitmentRow.status).in_([s.value for s in OPEN_COMMITMENT]))
            .where(chased <= now)
        )
        return [
            Obligation(
                c.request_id,
                c.agency,
                Clock.IMPLEMENTATION,
                chased_from(c.made_at, c.due, c.legal_limit, opened_at),
                chased_at(c.due, c.legal_limit),
                Urgency(urgency),
                case_ref,
                c.commitment_id,
            )
            for c, case_ref, urgency, opened_at in rows
        ]

    def _federal_overdue(self, session: Session, now: datetime) -> list[Obligation]:
        """The Mechanism's own obligations past their deadline and not met."""
        rows = session.exec(
            select(FederalObligationRow)
            .where(col(FederalObligationRow.met_at).is_(None))
            .where(col(FederalObligationRow.due_at) <= now)
        )
        return [obligation_from_row(row).ladder_view() for row in rows]

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
            if is_federal(obligation):  # met since, even late: it stops climbing
                row = session.exec(
                    select(FederalObligationRow).where(
                        FederalObligationRow.obligation_id == obligation.request_id
                    )
                ).first()
                return row is not None and row.met_at is None
            if obligation.commitment_id is not None:
                status = session.exec(
                    select(CommitmentRow.status).where(
                        CommitmentRow.request_id == obligation.request_id,
                        CommitmentRow.commitment_id == obligation.commitment_id,
                    )
                ).first()
                return owed(obligation.clock.value, True, status)
            status = session.exec(
                select(RecipientRow.status).where(
                    RecipientRow.request_id == obligation.request_id,
                    RecipientRow.agency == obligation.agency,
                )
            ).first()
        return owed(obligation.clock.value, False, status)

    def next_board_session(self, now: datetime) -> BoardSession | None:
        upcoming = self.upcoming_board_sessions(now)
        return upcoming[0] if upcoming else None

    def upcoming_board_sessions(self, now: datetime) -> list[BoardSession]:
        with Session(self.ledger.engine) as session:
            rows = session.exec(
                select(BoardSessionRow)
                .where(col(BoardSessionRow.scheduled_at) > now)
                .order_by(col(BoardSessionRow.scheduled_at))
            )
            return [BoardSession(row.session_id, row.scheduled_at) for row in rows]

    def board_consents(self, case_refs: Iterable[str]) -> dict[str, Consent]:
        with Session(self.ledger.engine) as session:
            return consents_for(session, case_refs)


def owed(clock: str, commitment: bool, status: str | None) -> bool:
    """Whether an obligation on ``clock`` is still owed, given the status of the commitment
    (``commitment``) or of the recipient's answer it is about."""
    if commitment:
        return status in {s.value for s in OPEN_COMMITMENT}
    if clock == Clock.ACKNOWLEDGEMENT.value:
        return status in {s.value for s in UNANSWERED}
    return status == RecipientStatus.ACKNOWLEDGED.value


def _key(ob: Obligation) -> _Key:
    return (ob.request_id, ob.agency, ob.clock.value, ob.commitment_id or "")


def _recipient_obligation(
    row: RecipientRow, case_ref: str | None, clock: Clock, due: datetime | None
) -> Obligation:
    assert row.sent_at is not None and due is not None
    return Obligation(
        row.request_id, row.agency, clock, row.sent_at, due, Urgency(row.urgency), case_ref
    )
