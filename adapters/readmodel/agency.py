"""What an agency may see of the record, for the HTTP bridge and its notices: what it still
owes, its open commitments, one request addressed to it as it may see it (need-to-know:
bus.domain.redaction), what became of a message it sent (and how the hub will judge the next
one), and the escalation rungs addressed to it that are still to be mailed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from adapters.ledger.aggressors import cases_naming
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import (
    DeadLetterRow,
    EscalationRow,
    MessageRow,
    NotificationAttemptRow,
    RecipientRow,
    RequestRow,
)
from adapters.ledger.unit import SqlUnit
from adapters.readmodel.commitments import CommitmentLine, commitments
from adapters.readmodel.requests import Filters, PendingLine, pending, request_message
from bus.domain import redaction
from bus.domain.lifecycle import RequestState
from schemas.envelope import Envelope
from schemas.messages import parse_message
from schemas.registry import active_registry

# --- what it owes ------------------------------------------------------------------------


def pending_for(
    ledger: SqlLedger, agency: str, now: datetime, limit: int, offset: int
) -> list[PendingLine]:
    """What ``agency`` still owes, most overdue first: ``limit`` lines after ``offset``."""
    with ledger.session() as session:
        lines = pending(session, now, Filters(agency=agency), limit, offset)
        named = cases_naming(session, agency)
    return [
        line
        for line in lines
        if line.agency == agency and not _after_flag(named, line.case_ref, line.sent_at)
    ]


def commitments_of(
    ledger: SqlLedger, agency: str, now: datetime, limit: int, offset: int
) -> list[CommitmentLine]:
    """The open commitments of ``agency``, earliest due first."""
    with ledger.session() as session:
        lines = commitments(
            session, now, overdue_only=False, agency=agency, limit=limit, offset=offset
        )
    return [line for line in lines if line.agency == agency]


# --- one request, as it may see it -------------------------------------------------------


def request_as_seen(ledger: SqlLedger, agency: str, request_id: str) -> tuple[Envelope, str] | None:
    """The request as ``agency`` may see it and where its answer stands; None alike for a
    request that does not exist and one addressed to someone else.

    On a case naming ``agency`` presumed aggressor, a request sent after it was named is not
    shown (the hub refuses any, so none should exist), and one it received before is shown
    without the people's details, whatever its kind would otherwise let it know: it holds
    what it was sent, and may still owe an answer, but the bus no longer hands it any
    personal detail of the case."""
    with ledger.session() as session:
        named = cases_naming(session, agency)
        recipient = session.exec(
            select(RecipientRow).where(
                RecipientRow.request_id == request_id, RecipientRow.agency == agency
            )
        ).first()
        row = (
            session.exec(request_message(request_id, MessageRow)).first()
            if recipient is not None
            else None
        )
    if recipient is None or row is None:
        return None
    if _after_flag(named, row.case_ref, row.recorded_at):
        return None
    document = json.loads(row.body)
    message = parse_message(row.body, recorded=True)
    registry = active_registry()
    flagged = row.case_ref in named
    if not flagged and redaction.may_know_personal(message, agency, registry):
        personal = ledger.personal(request_id, row.source)
        if personal is not None and isinstance(document.get("data"), dict):
            document["data"][redaction.PERSONAL_FIELD] = personal
            message = parse_message(json.dumps(document).encode(), recorded=True)
    return redaction.for_recipient(message, agency, registry), recipient.status


def _after_flag(named: dict[str, datetime], case_ref: str | None, at: datetime) -> bool:
    """Whether a message of ``case_ref`` was recorded after the agency was named on it."""
    return case_ref is not None and case_ref in named and at > named[case_ref]


def closed_at(ledger: SqlLedger, request_id: str) -> datetime | None:
    """When the request closed (it then takes no further answer), or None."""
    with ledger.session() as session:
        query = select(RequestRow.closed_at).where(RequestRow.request_id == request_id)
        return session.exec(query).first()


# --- what became of a message it sent ----------------------------------------------------


def request_state(ledger: SqlLedger, request_id: str) -> RequestState | None:
    """The request as the hub will judge the next message on it: read, never written."""
    with ledger.session() as session:
        return SqlUnit(session, ledger.sealer).load_request(request_id)


def recorded(ledger: SqlLedger, message: Envelope) -> bool:
    """Whether the ledger holds ``message`` (ids are scoped by sender)."""
    with ledger.session() as session:
        query = select(MessageRow.seq).where(
            MessageRow.message_id == message.id, MessageRow.source == message.source
        )
        return session.exec(query).first() is not None


def dead_letter(ledger: SqlLedger, message_id: str, sender: str) -> tuple[str, str] | None:
    """(reason, detail) of the hub's refusal of a message, or None if it refused none."""
    with ledger.session() as session:
        row = session.exec(
            select(DeadLetterRow).where(
                DeadLetterRow.message_id == message_id, DeadLetterRow.sender == sender
            )
        ).first()
    return (row.reason, row.detail) if row is not None else None


# --- escalation rungs to mail ------------------------------------------------------------


@dataclass(frozen=True)
class RungLine:
    """A rung of the escalation ladder that fired, addressed to ``to_agency``."""

    message_id: str  # the rung message's id
    to_agency: str
    request_id: str
    case_ref: str | None
    owing_agency: str
    clock: str
    level: str
    due_at: datetime
    commitment_id: str | None


def rungs_to_mail(
    ledger: SqlLedger, agencies: Iterable[str], limit: int
) -> list[tuple[RungLine, int]]:
    """Rungs addressed to ``agencies`` that no email attempt finished yet, oldest first, each
    with the number its next attempt will carry."""
    with ledger.session() as session:
        rows = session.exec(
            select(EscalationRow, RequestRow.case_ref)
            .join(RequestRow, col(RequestRow.request_id) == col(EscalationRow.request_id))
            .where(col(EscalationRow.to_agency).in_(sorted(agencies)))
            .order_by(col(EscalationRow.fired_at))
            .limit(limit)
        ).all()
        ids = [row.message_id for row, _ in rows]
        tried = session.exec(
            select(NotificationAttemptRow).where(
                NotificationAttemptRow.channel == "email",
                col(NotificationAttemptRow.message_id).in_(ids),
            )
        ).all()
    finished = {(t.message_id, t.agency) for t in tried if t.final}
    counts: dict[tuple[str, str], int] = {}
    for t in tried:
        counts[(t.message_id, t.agency)] = counts.get((t.message_id, t.agency), 0) + 1
    found = []
    for row, case_ref in rows:
        key = (row.message_id, row.to_agency)
        if key in finished:
            continue
        rung = RungLine(
            message_id=row.message_id,
            to_agency=row.to_agency,
            request_id=row.request_id,
            case_ref=case_ref,
            owing_agency=row.agency,
            clock=row.clock,
            level=row.level,
            due_at=row.due_at,
            commitment_id=row.commitment_key or None,
        )
        found.append((rung, counts.get(key, 0) + 1))
    return found
