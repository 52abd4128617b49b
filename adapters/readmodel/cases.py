"""One case or a few requests as they happened: what crossed the bus, and what is still owed
(the implementation agenda)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, or_, select

from adapters.ledger.tables import CommitmentRow, MessageRow, RecipientRow, RequestRow
from bus.domain import subjects
from bus.domain.agenda import AgendaItem, OpenItem, agenda
from bus.domain.federal import HUB
from bus.domain.legal_limit import BEYOND_THE_LEGAL_LIMIT, beyond
from bus.domain.lifecycle import OPEN_COMMITMENT, UNANSWERED, RecipientStatus


@dataclass(frozen=True)
class CaseEvent:
    message_id: str
    recorded_at: datetime
    source: str
    to: str
    message: str
    request_id: str
    detail: str
    flag: str | None = None  # "beyond the legal limit" on a commitment promised too late


def case_timeline(
    session: Session, case_ref: str, limit: int | None = None, offset: int = 0
) -> list[CaseEvent]:
    """Every message of the case across all agencies, in the order the bus carried them."""
    query = (
        select(MessageRow)
        .where(MessageRow.case_ref == case_ref)
        .order_by(col(MessageRow.stream_seq))
        .limit(limit)
        .offset(offset)
    )
    events = []
    messages = list(session.exec(query))
    late = _beyond_the_limit(session, [m for m in messages if m.type == _COMMITMENT_MADE])
    for m in messages:
        route = subjects.parse(m.nats_subject)
        to = route.agency if route and route.direction is subjects.Direction.TO else HUB
        events.append(
            CaseEvent(
                m.message_id,
                m.recorded_at,
                m.source,
                to,
                m.type.removeprefix("mech.").removesuffix(".v1"),
                m.thread_id,
                _detail(m.body),
                BEYOND_THE_LEGAL_LIMIT if (m.thread_id, m.message_id) in late else None,
            )
        )
    return events


_COMMITMENT_MADE = "mech.response.commitment_made.v1"


def _beyond_the_limit(session: Session, made: list[MessageRow]) -> set[tuple[str, str]]:
    """(request, message id) of the commitment messages promised later than the law allows."""
    if not made:
        return set()
    promised = {(m.thread_id, json.loads(m.body)["data"]["commitment_id"]): m for m in made}
    rows = session.exec(
        select(CommitmentRow).where(
            col(CommitmentRow.request_id).in_(sorted({m.thread_id for m in made}))
        )
    )
    return {
        (c.request_id, promised[c.request_id, c.commitment_id].message_id)
        for c in rows
        if (c.request_id, c.commitment_id) in promised and beyond(c.due, c.legal_limit)
    }


_DETAIL_FIELDS = (
    "official_role",
    "reason_code",
    "action",
    "due",
    "level",
    "to_agency",
    "summary",
    "measures",
    "aggression",
    "question",
    "reason",
    "shortfall",
)


def _detail(body: bytes) -> str:
    """A one-line summary from fields that carry no personal data (never ``personal``)."""
    data = json.loads(body).get("data", {})
    parts = []
    for name in _DETAIL_FIELDS:
        value = data.get(name)
        if value:
            text = ", ".join(value) if isinstance(value, list) else str(value)
            parts.append(f"{name}: {text}")
    return "; ".join(parts)[:160]


def case_agenda(session: Session, case_ref: str, now: datetime) -> list[AgendaItem]:
    mcs = {
        mc
        for mc in session.exec(
            select(RequestRow.iachr_precautionary_measure).where(RequestRow.case_ref == case_ref)
        )
        if mc
    }
    related = [case_ref, *sorted(mcs)]
    requests = {
        r.request_id: r
        for r in session.exec(
            select(RequestRow)
            .where(
                or_(
                    col(RequestRow.case_ref).in_(related),
                    col(RequestRow.iachr_precautionary_measure).in_(sorted(mcs) or [""]),
                )
            )
            .where(col(RequestRow.closed_at).is_(None))
        )
    }
    items = []
    ids = sorted(requests)
    for c in session.exec(select(CommitmentRow).where(col(CommitmentRow.request_id).in_(ids))):
        if c.status in {s.value for s in OPEN_COMMITMENT}:
            req = requests[c.request_id]
            items.append(
                OpenItem(
                    c.request_id,
                    req.case_ref,
                    req.iachr_precautionary_measure,
                    c.agency,
                    req.type.split(".")[2],
                    c.action,
                    c.due,
                    c.commitment_id,
                    c.status,
                    c.legal_limit,
                )
            )
    owing = [s.value for s in UNANSWERED] + [RecipientStatus.ACKNOWLEDGED.value]
    for r in session.exec(
        select(RecipientRow)
        .where(col(RecipientRow.request_id).in_(ids))
        .where(col(RecipientRow.status).in_(owing))
    ):
        req = requests[r.request_id]
        due = r.ack_due_at if r.status != RecipientStatus.ACKNOWLEDGED.value else r.answer_due_at
        what = "acknowledge the request" if r.status in UNANSWERED else "answer the request"
        items.append(
            OpenItem(
                r.request_id,
                req.case_ref,
                req.iachr_precautionary_measure,
                r.agency,
                r.kind,
                what,
                due,
                None,
                r.status,
            )
        )
    return agenda(case_ref, items, now)


@dataclass(frozen=True)
class TimelineLine:
    stream_seq: int
    recorded_at: datetime
    source: str
    type: str
    thread_id: str


def timeline(session: Session, thread_ids: Iterable[str]) -> list[TimelineLine]:
    """Every recorded message of the given requests, in the order the bus carried them."""
    query = (
        select(MessageRow)
        .where(col(MessageRow.thread_id).in_(list(thread_ids)))
        .order_by(col(MessageRow.stream_seq))
    )
    return [
        TimelineLine(m.stream_seq, m.recorded_at, m.source, m.type, m.thread_id)
        for m in session.exec(query)
    ]


def case_states(session: Session, case_ref: str) -> list[str]:
    """The states whose agencies the case's requests went to (codes, sorted): the heading of
    its printed file."""
    query = (
        select(RecipientRow.state)
        .join(RequestRow, col(RequestRow.request_id) == col(RecipientRow.request_id))
        .where(RequestRow.case_ref == case_ref)
        .where(col(RecipientRow.state).is_not(None))
        .distinct()
    )
    return sorted(s for s in session.exec(query) if s)
