"""The requests staff follow: every recipient's line, what is still owed (pending), and the
message that made a request."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from adapters.ledger.tables import EscalationRow, MessageRow, RecipientRow, RequestRow
from adapters.readmodel.names import institution
from bus.domain.ladder import Obligation, Standing, staff_rung, standing
from bus.domain.lifecycle import UNANSWERED, RecipientStatus
from bus.domain.policy import Clock, Policy
from bus.domain.rules import answer_clock
from schemas.envelope import Urgency
from schemas.registry import active_registry
from schemas.tracking import EscalationLevel


@dataclass(frozen=True)
class RequestLine:
    request_id: str
    kind: str
    case_ref: str | None
    urgency: str
    recipient: str
    status: str
    sent_at: datetime
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    decided_at: datetime | None
    # Set once the request closed: it then takes no further message (bus.domain.lifecycle).
    closed_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """Programs get the recipient's id and, beside it, its institution's name."""
        found = {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()
        }
        return found | {"recipient_name": str(institution(self.recipient))}


def request_lines(
    session: Session,
    *,
    request_ids: Iterable[str] | None = None,
    limit: int | None = 200,
    offset: int = 0,
) -> list[RequestLine]:
    query = (
        select(RequestRow, RecipientRow)
        .join(RecipientRow, col(RecipientRow.request_id) == col(RequestRow.request_id))
        .order_by(
            col(RequestRow.sent_at).desc(), col(RequestRow.request_id), col(RecipientRow.position)
        )
        .limit(limit)
        .offset(offset)
    )
    if request_ids is not None:
        query = query.where(col(RequestRow.request_id).in_(list(request_ids)))
    return [
        RequestLine(
            request_id=req.request_id,
            kind=req.type.split(".")[2],
            case_ref=req.case_ref,
            urgency=req.urgency,
            recipient=rec.agency,
            status=rec.status,
            sent_at=req.sent_at,
            delivered_at=rec.delivered_at,
            acknowledged_at=rec.acknowledged_at,
            acknowledged_by=rec.acknowledged_by,
            decided_at=rec.decided_at,
            closed_at=req.closed_at,
        )
        for req, rec in session.exec(query)
    ]


@dataclass(frozen=True)
class PendingLine:
    request_id: str
    case_ref: str | None
    kind: str
    urgency: str
    agency: str
    state: str | None
    status: str
    owed: str  # "acknowledgement" or "answer"
    sent_at: datetime
    due_at: datetime
    overdue_hours: float  # negative: still within the deadline
    # how far up the escalation ladder it went, and what comes next (bus.domain.ladder)
    last_rung: str | None = None
    last_rung_at: datetime | None = None
    next_rung: str | None = None
    next_rung_at: datetime | None = None
    # whether a person's "remind now" / "escalate now" would send anything at the time read
    may_remind: bool = False
    may_escalate: bool = False


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    agency: str | None = None
    kind: str | None = None
    urgency: str | None = None

    @classmethod
    def checked(
        cls,
        state: str | None = None,
        agency: str | None = None,
        kind: str | None = None,
        urgency: str | None = None,
    ) -> Filters:
        """The filters as staff typed them, each resolved to what the ledger holds (a state's
        name to its code, ``urgente`` to ``urgent`` ...); ``references.UnknownReference``
        for a value that names nothing."""
        from adapters.readmodel import references as refs

        return cls(
            refs.state(state) if state else None,
            refs.agency(agency) if agency else None,
            refs.kind(kind) if kind else None,
            refs.urgency(urgency) if urgency else None,
        )

    def apply(self, query: SelectOfScalar[RecipientRow]) -> SelectOfScalar[RecipientRow]:
        if self.state:
            query = query.where(RecipientRow.state == self.state.upper())
        if self.agency:
            query = query.where(RecipientRow.agency == self.agency)
        if self.kind:
            query = query.where(RecipientRow.kind == self.kind)
        if self.urgency:
            query = query.where(RecipientRow.urgency == self.urgency)
        return query


def pending(
    session: Session,
    now: datetime,
    filters: Filters,
    limit: int | None = 100,
    offset: int = 0,
    *,
    policy: Policy | None = None,
) -> list[PendingLine]:
    """Requests still owed an acknowledgement or an answer, most overdue first, each with
    where it stands on the escalation ladder of ``policy`` (the shipped one by default).

    One index range scan per status on (status, due), each stopping after ``limit`` rows,
    merged here: the cost depends on ``offset + limit``, not on how many requests the record
    holds. (A single ``status IN (...)`` query would read and sort every unanswered row.)
    """
    reach = None if limit is None else offset + limit
    scans = [(status.value, "ack_due_at", "acknowledgement") for status in UNANSWERED]
    scans.append((RecipientStatus.ACKNOWLEDGED.value, "answer_due_at", "answer"))
    rows = []
    for status, due_field, owed in scans:
        query = filters.apply(
            select(RecipientRow)
            .where(RecipientRow.status == status)
            .order_by(col(getattr(RecipientRow, due_field)), col(RecipientRow.id))
            .limit(reach)
        )
        rows += [(getattr(r, due_field), owed, r) for r in session.exec(query)]
    # ties broken by row id, so that consecutive pages neither repeat nor skip a row
    ordered = sorted(rows, key=lambda item: (item[0] is None, item[0] or now, item[2].id or 0))
    top = ordered[offset:reach]
    case_refs = _case_refs(session, {r.request_id for _, _, r in top})
    fired = _fired(session, {r.request_id for _, _, r in top})
    ladder = policy or _shipped_policy()
    registry = active_registry()
    lines = []
    for due, owed, r in top:
        clock = (
            Clock.ACKNOWLEDGEMENT if owed == "acknowledgement" else answer_clock(r.agency, registry)
        )
        sent, due_at = r.sent_at or now, due or now
        obligation = Obligation(r.request_id, r.agency, clock, sent, due_at, Urgency(r.urgency))
        fired_at = fired.get((r.request_id, r.agency, clock.value), {})
        where = standing(obligation, fired_at, ladder) if due else Standing()
        lines.append(
            PendingLine(
                request_id=r.request_id,
                case_ref=case_refs.get(r.request_id),
                kind=r.kind,
                urgency=r.urgency,
                agency=r.agency,
                state=r.state,
                status=r.status,
                owed=owed,
                sent_at=sent,
                due_at=due_at,
                overdue_hours=round(((now - due).total_seconds() if due else 0.0) / 3600, 2),
                last_rung=where.last.value if where.last else None,
                last_rung_at=where.last_at,
                next_rung=where.next.value if where.next else None,
                next_rung_at=where.next_at,
                may_remind=due is not None
                and staff_rung(obligation, fired_at, now, escalate=False) is not None,
                may_escalate=due is not None
                and staff_rung(obligation, fired_at, now, escalate=True) is not None,
            )
        )
    return lines


@cache
def _shipped_policy() -> Policy:
    return Policy.load()


_Fired = dict[tuple[str, str, str], dict[EscalationLevel, datetime]]


def _fired(session: Session, request_ids: set[str]) -> _Fired:
    """When each rung fired, per (request, agency, clock), for the requests' own clocks (a
    commitment's rungs belong to the commitment, not to the answer)."""
    found: _Fired = {}
    if not request_ids:
        return found
    query = select(EscalationRow).where(
        col(EscalationRow.request_id).in_(sorted(request_ids)), EscalationRow.commitment_key == ""
    )
    for row in session.exec(query):
        key = (row.request_id, row.agency, row.clock)
        found.setdefault(key, {})[EscalationLevel(row.level)] = row.fired_at
    return found


def _case_refs(session: Session, request_ids: set[str]) -> dict[str, str | None]:
    if not request_ids:
        return {}
    query = select(RequestRow.request_id, RequestRow.case_ref).where(
        col(RequestRow.request_id).in_(sorted(request_ids))
    )
    return {rid: case for rid, case in session.exec(query)}


def request_message(request_id: str, *columns: Any) -> Any:
    """The message that made request ``request_id`` (ids are scoped by sender: an agency may
    have used the same id for a message of its own)."""
    return (
        select(*columns)
        .join(RequestRow, col(RequestRow.request_id) == col(MessageRow.message_id))
        .where(MessageRow.message_id == request_id, MessageRow.source == RequestRow.source)
    )
