"""The escalation ladder as pure functions: which rungs are due for an obligation, and the
tracking message each rung sends.

An obligation is something an agency owes by a deadline: an acknowledgement, an answer, or a
commitment it made. Rung k is due at ``started + factor_k * (due - started)``, so rung 1
(factor 1.0) is the deadline and "half again overdue" is factor 1.5. Every rung's message
has an id fixed by the obligation and the rung, and its ``time`` is the rung's scheduled time,
so sending it twice (after a crash, a restart, a clock jump) is the same message twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bus.domain import aggressors
from bus.domain.board import NO_CONSENT_NOTE, BoardPlan
from bus.domain.board import BoardSession as BoardSession
from bus.domain.federal import BOARD, HUB, MECHANISM
from bus.domain.policy import LADDER, Clock, Policy
from schemas.envelope import Envelope, Urgency
from schemas.registry import AgencyRegistry
from schemas.tracking import (
    AcknowledgementOverdue,
    CommitmentOverdue,
    Escalated,
    EscalationBody,
    EscalationLevel,
)


@dataclass(frozen=True)
class Obligation:
    request_id: str
    agency: str
    clock: Clock
    started_at: datetime
    due_at: datetime
    urgency: Urgency = Urgency.ORDINARY
    case_ref: str | None = None
    commitment_id: str | None = None
    fired: frozenset[EscalationLevel] = field(default=frozenset())
    # agencies named presumed aggressor on the case: no rung goes to them (see ``_rung``)
    presumed_aggressors: frozenset[str] = field(default=frozenset())

    @property
    def period(self) -> timedelta:
        return max(self.due_at - self.started_at, timedelta(0))

    def rung_at(self, level: EscalationLevel, policy: Policy) -> datetime:
        return self.started_at + self.period * policy.ladder[level]


@dataclass(frozen=True)
class Rung:
    obligation: Obligation
    level: EscalationLevel
    at: datetime
    to_agency: str
    board_session_id: str | None = None
    authority_to_summon: str | None = None
    note: str | None = None


def rungs_due(
    obligation: Obligation,
    policy: Policy,
    now: datetime,
    registry: AgencyRegistry,
    board: BoardPlan | None = None,
) -> list[Rung]:
    """The rungs whose time has come and that have not fired yet, lowest first.

    ``board``: the upcoming sessions and the recorded consents; the Board rung reaches the
    first session whose material cut-off has not passed at ``now`` (when it is sent).

    After a clock jump forward several rungs come due at once and all are returned, in order;
    after a jump back nothing un-fires.
    """
    due = []
    for level in LADDER:
        if level in obligation.fired:
            continue
        at = obligation.rung_at(level, policy)
        if at > now:
            break
        due.append(_rung(obligation, level, at, now, registry, board))
    return due


@dataclass(frozen=True)
class Standing:
    """How far up the ladder an obligation went (the highest rung fired, and when) and the
    rung that comes next, at its scheduled time (None: every rung has fired)."""

    last: EscalationLevel | None = None
    last_at: datetime | None = None
    next: EscalationLevel | None = None
    next_at: datetime | None = None


def standing(
    obligation: Obligation, fired_at: Mapping[EscalationLevel, datetime], policy: Policy
) -> Standing:
    """Where ``obligation`` stands, given when each of its rungs fired. The next rung is the
    lowest not fired yet, as the sweeper would send it (staff may have escalated early)."""
    fired = [level for level in LADDER if level in fired_at]
    last = fired[-1] if fired else None
    upcoming = next((level for level in LADDER if level not in fired_at), None)
    return Standing(
        last,
        fired_at[last] if last is not None else None,
        upcoming,
        obligation.rung_at(upcoming, policy) if upcoming is not None else None,
    )


def staff_rung(
    obligation: Obligation,
    fired: Collection[EscalationLevel],
    now: datetime,
    *,
    escalate: bool,
) -> EscalationLevel | None:
    """The rung a person's action would send now, or None when pressing it would send
    nothing: before the deadline nothing is owed yet; a reminder goes once (its id is fixed);
    escalating sends the lowest rung above the reminder not sent yet, early if need be."""
    if now < obligation.due_at:
        return None
    if not escalate:
        return None if EscalationLevel.REMINDER in fired else EscalationLevel.REMINDER
    return next(
        (lv for lv in LADDER if lv is not EscalationLevel.REMINDER and lv not in fired), None
    )


def fire_now(
    obligation: Obligation,
    level: EscalationLevel,
    now: datetime,
    board: BoardPlan | None,
    registry: AgencyRegistry,
) -> Rung:
    """The rung ``level`` fired at ``now`` by a person rather than at its scheduled time (staff
    may remind or escalate early); it names the same recipient and has the same fixed id."""
    return _rung(obligation, level, now, now, registry, board)


def _rung(
    obligation: Obligation,
    level: EscalationLevel,
    at: datetime,
    now: datetime,
    registry: AgencyRegistry,
    board: BoardPlan | None,
) -> Rung:
    """The rung as the ladder names it, sent to the Mechanism instead of an agency named
    presumed aggressor on the case (the agency itself, or its state's authority)."""
    rung = _named_rung(obligation, level, at, now, registry, board)
    to_agency = aggressors.redirect(rung.to_agency, obligation.presumed_aggressors)
    return rung if to_agency == rung.to_agency else replace(rung, to_agency=to_agency)


def _named_rung(
    obligation: Obligation,
    level: EscalationLevel,
    at: datetime,
    now: datetime,
    registry: AgencyRegistry,
    board: BoardPlan | None,
) -> Rung:
    if level is EscalationLevel.REMINDER:
        return Rung(obligation, level, at, obligation.agency)
    if level is EscalationLevel.AUTHORITY_NOTICE:
        return Rung(obligation, level, at, highest_authority(obligation.agency, registry))
    if level is EscalationLevel.BOARD_AGENDA:
        return _board_rung(obligation, at, now, board or BoardPlan())
    return Rung(obligation, level, at, MECHANISM)


def _board_rung(obligation: Obligation, at: datetime, now: datetime, board: BoardPlan) -> Rung:
    """On the agenda of the first session it is in time for (none: the secretariat still
    learns of it); the authority is invited only with the beneficiary's consent, and never when
    it is named presumed aggressor on the case."""
    session = board.session_for(now)
    session_id = session.session_id if session else None
    level = EscalationLevel.BOARD_AGENDA
    if not aggressors.may_receive(obligation.agency, obligation.presumed_aggressors):
        return Rung(obligation, level, at, BOARD, session_id, None, aggressors.NOT_INVITED_NOTE)
    if board.may_invite(obligation.case_ref, obligation.agency):
        return Rung(obligation, level, at, BOARD, session_id, obligation.agency)
    return Rung(obligation, level, at, BOARD, session_id, None, NO_CONSENT_NOTE)


def highest_authority(agency: str, registry: AgencyRegistry) -> str:
    """The state's Secretary of Government for a state agency; the Mechanism otherwise."""
    record = registry.get(agency)
    if record is None or record.state is None:
        return MECHANISM
    authority = registry.highest_authority(record.state)
    return authority.id if authority else MECHANISM


def escalation_id(obligation: Obligation, level: EscalationLevel) -> str:
    key = "|".join(
        (
            obligation.request_id,
            obligation.agency,
            obligation.clock.value,
            obligation.commitment_id or "",
            level.value,
        )
    )
    return "esc-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def rung_message(rung: Rung) -> Envelope:
    """The tracking message a rung sends (its id and time are fixed by the rung)."""
    ob = rung.obligation
    body = EscalationBody(
        request_id=ob.request_id,
        agency=ob.agency,
        clock=ob.clock.value,
        commitment_id=ob.commitment_id,
        level=rung.level,
        due_at=ob.due_at,
        to_agency=rung.to_agency,
        board_session_id=rung.board_session_id,
        authority_to_summon=rung.authority_to_summon,
        note=rung.note,
    )
    cls: type[Envelope]
    if rung.level is not EscalationLevel.REMINDER:
        cls = Escalated
    elif ob.commitment_id is not None:
        cls = CommitmentOverdue
    else:
        cls = AcknowledgementOverdue
    return cls.model_validate(
        {
            "id": escalation_id(ob, rung.level),
            "source": HUB,
            "time": rung.at,
            "subject": ob.case_ref,
            "recipients": (rung.to_agency,),
            "correlation_id": ob.request_id,
            "urgency": ob.urgency,
            "data": body,
        }
    )
