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
    for m in session.exec(query):
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
            )
        )
    return events


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
