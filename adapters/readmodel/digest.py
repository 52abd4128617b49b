"""The daily digest for federal staff: what fell overdue, what climbed a rung of the ladder and
what the Board's next session must see, by institution and state. Identifiers only: nothing
of the requests' bodies is read, so no personal data."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from adapters.ledger.tables import BoardSessionRow, EscalationRow, RequestRow
from adapters.readmodel.board import AgendaLine
from adapters.readmodel.board import agenda as board_agenda
from adapters.readmodel.requests import Filters, pending
from schemas.registry import active_registry, state_name


@dataclass(frozen=True)
class DigestLine:
    case_ref: str | None
    request_id: str
    institution: str  # the agency, by its registry name
    state: str | None  # the state's name
    what: str  # the owed answer ("acknowledgement", "answer") or the rung reached
    due_at: datetime


@dataclass(frozen=True)
class Digest:
    since: datetime
    until: datetime
    overdue: list[DigestLine]
    climbed: list[DigestLine]
    board_session: str | None
    board_at: datetime | None
    board: list[AgendaLine]

    @property
    def empty(self) -> bool:
        return not (self.overdue or self.climbed or self.board)

    def per_state(self) -> list[tuple[str, int]]:
        """Overdue items per state, most first (federal agencies under "—")."""
        counts = Counter(line.state or "—" for line in self.overdue)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def per_institution(self) -> list[tuple[str, int]]:
        counts = Counter(line.institution for line in self.overdue)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _institution(agency: str) -> tuple[str, str | None]:
    found = active_registry().get(agency)
    if found is None:
        return agency, None
    return found.name, state_name(found.state) if found.state else None


def daily_digest(session: Session, now: datetime, since: datetime, cutoff: timedelta) -> Digest:
    """The digest of [``since``, ``now``); ``cutoff``: the Board's material cut-off (policy)."""
    overdue = []
    for line in pending(session, now, Filters(), limit=None):
        if since <= line.due_at < now:
            name, state = _institution(line.agency)
            overdue.append(
                DigestLine(line.case_ref, line.request_id, name, state, line.owed, line.due_at)
            )
    overdue.sort(key=lambda line: line.due_at)
    rungs = list(
        session.exec(
            select(EscalationRow)
            .where(col(EscalationRow.fired_at) >= since, col(EscalationRow.fired_at) < now)
            .order_by(col(EscalationRow.fired_at), col(EscalationRow.id))
        )
    )
    cases = dict(
        session.exec(
            select(RequestRow.request_id, RequestRow.case_ref).where(
                col(RequestRow.request_id).in_(sorted({r.request_id for r in rungs}))
            )
        ).all()
    )
    climbed = []
    for rung in rungs:
        name, state = _institution(rung.agency)
        climbed.append(
            DigestLine(
                cases.get(rung.request_id), rung.request_id, name, state, rung.level, rung.due_at
            )
        )
    upcoming = session.exec(
        select(BoardSessionRow)
        .where(col(BoardSessionRow.scheduled_at) >= now)
        .order_by(col(BoardSessionRow.scheduled_at))
        .limit(1)
    ).first()
    board_session = upcoming.session_id if upcoming else None
    board = board_agenda(session, now, cutoff, board_session) if board_session else []
    return Digest(
        since,
        now,
        overdue,
        climbed,
        board_session,
        upcoming.scheduled_at if upcoming else None,
        board,
    )
