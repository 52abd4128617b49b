"""One case or a few requests as they happened: what crossed the bus, and what is still owed
(the implementation agenda)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from adapters.ledger.tables import (
    CommitmentRow,
    FederalObligationRow,
    MessageRow,
    RecipientRow,
    RequestRow,
)
from adapters.readmodel import narration
from bus.domain import addressing, subjects
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
    message: str  # the kind, e.g. "tracking.escalated"
    request_id: str
    flag: str | None = None  # "beyond the legal limit" on a commitment promised too late
    # the message's fields that carry no personal data (``_FACTS``), which the detail tells
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def phrase(self) -> str:
        """The kind in words, in the language being spoken."""
        return narration.kind_phrase(self.message)

    @property
    def detail(self) -> str:
        """What the message says, as a sentence naming the institutions."""
        return narration.detail(self.message, self.facts)


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
                BEYOND_THE_LEGAL_LIMIT if (m.thread_id, m.message_id) in late else None,
                _facts(m.body),
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


# The fields a timeline's detail may tell: none carries personal data (``personal`` never).
_FACTS = (
    "override_reason",  # first: a request sent against the addressing rules says why
    "official_role",
    "reason_code",
    "action",
    "due",
    "level",
    "agency",
    "to_agency",
    "clock",
    "board_session_id",
    "session_id",
    "attended",
    "given",
    "agencies",
    "summary",
    "measures",
    "aggression",
    "question",
    "reason",
    "shortfall",
    "what",
)


def _facts(body: bytes) -> dict[str, Any]:
    data = json.loads(body).get("data", {})
    return {name: data[name] for name in _FACTS if name in data}


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


def case_states(session: Session, case_ref: str | None) -> frozenset[str]:
    """The states the ledger records the case in: those its requests name (a protection
    measure's state, the state a relocation leaves) and the state of its incorporation."""
    if case_ref is None:
        return frozenset()
    found: set[str] = set()
    requests = session.exec(
        select(MessageRow.type, MessageRow.body).where(
            MessageRow.case_ref == case_ref,
            col(MessageRow.type).in_(sorted(addressing.STATE_FIELDS)),
        )
    )
    for message_type, body in requests:
        state = addressing.declared_state(message_type, json.loads(body).get("data", {}))
        if state:
            found.add(state)
    incorporated = session.exec(
        select(FederalObligationRow.state).where(FederalObligationRow.case_ref == case_ref)
    )
    found.update(state for state in incorporated if state)
    return frozenset(found)


def recorded_legal_limit(session: Session, request_id: str | None) -> datetime | None:
    """The legal limit the ledger recorded for a request (protection measures only)."""
    request = session.get(RequestRow, request_id) if request_id is not None else None
    return request.legal_limit if request is not None else None


def recipient_states(session: Session, case_ref: str) -> list[str]:
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
