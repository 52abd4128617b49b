"""The Mechanism's own obligations: which message starts which federal clock, which meets it,
and where each stands.

The law binds the federation, not the states, to clocks (LPPDDHP arts. 26, 27, 29 fr. I); the
bus holds the Mechanism to them as strictly as it holds the states to theirs. Pure: the hub
passes in the case's obligations and the Mechanism's requests on that case as the ledger has
them, and gets back the obligations that changed.

Recording is independent of the order in which the hub sees the messages: a start looks back
at the requests already recorded on the case, a meeting that comes before its start is kept
and the start takes it up, and of two starts (or two meetings) the earlier one counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from bus.domain.federal import MECHANISM, RECEPTION, RISK
from bus.domain.ladder import Obligation
from bus.domain.policy import Clock, Policy
from schemas.envelope import Envelope, Family, Urgency
from schemas.federal import (
    FEDERAL_OBLIGATION_MESSAGES,
    BoardDecisionTaken,
    IncorporationReceived,
    RiskStudyDelivered,
    UrgentMeasuresIssued,
)
from schemas.requests import ProtectionMeasureRequest, RequestRecall, RequestUpdate

OWNERS: Mapping[Clock, str] = {
    Clock.MEASURES_ISSUED: RECEPTION,
    Clock.RISK_ASSESSMENT: RISK,
    Clock.DECISION_COMMUNICATED: MECHANISM,
}
"""The unit that owes each federal clock the bus enforces."""

ID_PREFIX = "fo-"  # a federal obligation's id, where the ladder names a request


class Standing(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"  # met after its deadline: recorded, never refused
    OPEN = "open"
    OVERDUE = "overdue"
    NOT_STARTED = "not_started"  # met before the hub saw what starts it


@dataclass(frozen=True)
class FederalObligation:
    obligation_id: str
    case_ref: str
    clock: Clock
    owner: str
    decision_id: str = ""
    urgency: Urgency | None = None
    state: str | None = None
    started_at: datetime | None = None
    due_at: datetime | None = None
    met_at: datetime | None = None
    started_by: str | None = None  # message ids
    met_by: str | None = None

    def standing(self, now: datetime) -> Standing:
        if self.started_at is None or self.due_at is None:
            return Standing.NOT_STARTED
        if self.met_at is not None:
            return Standing.ON_TIME if self.met_at <= self.due_at else Standing.LATE
        return Standing.OVERDUE if self.due_at <= now else Standing.OPEN

    def ladder_view(self) -> Obligation:
        """The obligation as the escalation ladder sees it (its id where a request's would be)."""
        assert self.started_at is not None and self.due_at is not None
        return Obligation(
            self.obligation_id,
            self.owner,
            self.clock,
            self.started_at,
            self.due_at,
            self.urgency or Urgency.ORDINARY,
            self.case_ref,
        )


@dataclass(frozen=True)
class CaseRequest:
    """A request the Mechanism sent on a case, as recorded."""

    request_id: str
    type: str
    urgency: Urgency
    sent_at: datetime


def obligation_id(case_ref: str, clock: Clock, decision_id: str = "") -> str:
    """Fixed by what the obligation is, so every start and meeting of it finds the same one."""
    key = "|".join((case_ref, clock.value, decision_id))
    return ID_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


def is_federal(obligation: Obligation) -> bool:
    return obligation.request_id.startswith(ID_PREFIX)


def concerns_obligations(message: Envelope) -> bool:
    """Whether recording ``message`` may start or meet a federal obligation."""
    return isinstance(message, FEDERAL_OBLIGATION_MESSAGES) or meeting_request(message)


def meeting_request(message: Envelope) -> bool:
    """A new request of the Executive Coordination on a case: it may issue the case's urgent
    measures or communicate a Board decision on it."""
    return (
        message.family is Family.REQUEST
        and message.source == MECHANISM
        and message.subject is not None
        and not isinstance(message, RequestRecall | RequestUpdate)
    )


def meets_measures(request: CaseRequest) -> bool:
    """The first urgent protection-measure request on a case issues its urgent measures."""
    return request.type == ProtectionMeasureRequest.model_fields["type"].default and (
        request.urgency is Urgency.URGENT
    )


def changes(
    message: Envelope,
    now: datetime,
    policy: Policy,
    existing: Iterable[FederalObligation],
    requests: Iterable[CaseRequest],
) -> list[FederalObligation]:
    """The obligations of ``message``'s case that recording it starts or meets, as they stand
    after it. ``existing`` are the case's obligations, ``requests`` the Mechanism's requests
    on the case already recorded (both from the ledger), ``now`` the recording time."""
    case = message.subject
    if case is None:
        return []
    known = {ob.obligation_id: ob for ob in existing}
    case_requests = list(requests)
    if isinstance(message, IncorporationReceived):
        started_at = min(message.data.received_at, now)
        return [
            _start(
                known.get(obligation_id(case, clock)) or _blank(case, clock),
                started_at,
                message,
                policy,
                case_requests,
                state=message.data.state,
            )
            for clock in (Clock.MEASURES_ISSUED, Clock.RISK_ASSESSMENT)
            if policy.runs(clock, message.urgency)
        ]
    if isinstance(message, BoardDecisionTaken):
        clock, decision = Clock.DECISION_COMMUNICATED, message.data.decision_id
        ob = known.get(obligation_id(case, clock, decision)) or _blank(case, clock, decision)
        started_at = min(message.data.decided_at, now)
        return [_start(ob, started_at, message, policy, case_requests)]
    if isinstance(message, UrgentMeasuresIssued | RiskStudyDelivered):
        clock = (
            Clock.MEASURES_ISSUED
            if isinstance(message, UrgentMeasuresIssued)
            else Clock.RISK_ASSESSMENT
        )
        ob = known.get(obligation_id(case, clock)) or _blank(case, clock)
        return [_met(ob, now, message.id)]
    if meeting_request(message):
        request = CaseRequest(message.id, message.type, message.urgency, now)
        return [
            _met(ob, now, message.id)
            for ob in known.values()
            if ob.started_at is not None and _request_meets(ob, request)
        ]
    return []


def _blank(case: str, clock: Clock, decision_id: str = "") -> FederalObligation:
    return FederalObligation(
        obligation_id(case, clock, decision_id), case, clock, OWNERS[clock], decision_id
    )


def _request_meets(ob: FederalObligation, request: CaseRequest) -> bool:
    """Whether a request of the Mechanism on the case meets ``ob`` (once it has started)."""
    assert ob.started_at is not None
    if request.sent_at < ob.started_at:
        return False
    if ob.clock is Clock.MEASURES_ISSUED:
        return meets_measures(request)
    return ob.clock is Clock.DECISION_COMMUNICATED


def _start(
    ob: FederalObligation,
    started_at: datetime,
    message: Envelope,
    policy: Policy,
    requests: list[CaseRequest],
    *,
    state: str | None = None,
) -> FederalObligation:
    if ob.started_at is not None and ob.started_at <= started_at:
        return ob  # started already, as early or earlier: the same obligation again
    urgency = message.urgency
    started = replace(
        ob,
        urgency=urgency,
        state=state or ob.state,
        started_at=started_at,
        due_at=started_at + policy.length(ob.clock, urgency),
        started_by=message.id,
    )
    meeting = [r for r in requests if _request_meets(started, r)]
    first = min(meeting, key=lambda r: r.sent_at, default=None)
    return _met(started, first.sent_at, first.request_id) if first is not None else started


def _met(ob: FederalObligation, at: datetime, message_id: str) -> FederalObligation:
    """The earliest meeting counts, whatever order the hub recorded them in."""
    if ob.met_at is not None and ob.met_at <= at:
        return ob
    return replace(ob, met_at=at, met_by=message_id)
