"""The request lifecycle as a pure function: apply(state, message, now) -> (state, events).

No I/O and no clock reads: the hub passes ``now`` (its receive time, which is what counts for
accountability: an agency cannot backdate its acknowledgement by setting ``time``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from bus.domain.errors import RefusalError
from bus.domain.policy import Clock
from bus.domain.rules import Rules
from schemas.capacity import (
    PLACEMENT_MESSAGES,
    OfferReleased,
    PlacementArrived,
    PlacementConfirmed,
    PlacementEnded,
    PlacementOffer,
)
from schemas.envelope import Envelope, Family, Urgency
from schemas.requests import OPENING_REQUESTS, RequestRecall, RequestUpdate
from schemas.responses import (
    Acceptance,
    Acknowledgement,
    CommitmentFulfilled,
    CommitmentMade,
    CommitmentPartiallyFulfilled,
    CommitmentWithdrawn,
    Decline,
    DeliveryReceipt,
    ProgressReport,
    ProvisionalAnswer,
)
from schemas.tracking import RejectionReason


class RecipientStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    PROVISIONAL = "provisional"
    CANCELLED = "cancelled"
    # a shelter answering a relocation request
    OFFERED = "offered"
    PLACED = "placed"
    ARRIVED = "arrived"
    RELEASED = "released"
    DEPARTED = "departed"


class CommitmentStatus(StrEnum):
    COMMITTED = "committed"
    IN_PROGRESS = "in_progress"
    FULFILLED = "fulfilled"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    WITHDRAWN = "withdrawn"


UNANSWERED = frozenset({RecipientStatus.SENT, RecipientStatus.DELIVERED})
DECIDABLE = frozenset({RecipientStatus.ACKNOWLEDGED, RecipientStatus.PROVISIONAL})
MAY_COMMIT = frozenset({RecipientStatus.ACCEPTED, RecipientStatus.PROVISIONAL})
FINAL_RECIPIENT = frozenset(
    {
        RecipientStatus.DECLINED,
        RecipientStatus.CANCELLED,
        RecipientStatus.RELEASED,
        RecipientStatus.DEPARTED,
    }
)
MAY_OFFER = UNANSWERED | {RecipientStatus.ACKNOWLEDGED}
HOUSED = frozenset({RecipientStatus.PLACED, RecipientStatus.ARRIVED})
RELOCATION = "mech.request.relocation.v1"
OPEN_COMMITMENT = frozenset({CommitmentStatus.COMMITTED, CommitmentStatus.IN_PROGRESS})


@dataclass(frozen=True)
class Recipient:
    agency: str
    status: RecipientStatus = RecipientStatus.SENT
    delivered_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    ack_due: datetime | None = None  # when the institutional acknowledgement is due
    answer_due: datetime | None = None  # when the accept/decline answer is due


@dataclass(frozen=True)
class Commitment:
    commitment_id: str
    agency: str
    action: str
    due: datetime
    made_at: datetime
    status: CommitmentStatus = CommitmentStatus.COMMITTED
    last_progress_at: datetime | None = None
    ended_at: datetime | None = None

    def overdue(self, now: datetime) -> bool:
        """Past due and still open: a breach, computed from the clock, never stored."""
        return self.status in OPEN_COMMITMENT and now > self.due


@dataclass(frozen=True)
class RequestState:
    request_id: str
    type: str
    source: str
    case_ref: str | None
    urgency: Urgency
    sent_at: datetime
    recipients: tuple[Recipient, ...]
    commitments: tuple[Commitment, ...] = ()
    expires: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    iachr_precautionary_measure: str | None = None  # the IACHR MC these measures also serve
    board_session_id: str | None = None  # for a Board summons: the session it summons to

    def recipient(self, agency: str) -> Recipient | None:
        return next((r for r in self.recipients if r.agency == agency), None)

    def commitment(self, commitment_id: str) -> Commitment | None:
        return next((c for c in self.commitments if c.commitment_id == commitment_id), None)


# Events: what a transition did, for the ledger and for whoever watches the bus.
@dataclass(frozen=True)
class RequestOpened:
    request_id: str


@dataclass(frozen=True)
class RecipientChanged:
    agency: str
    status: RecipientStatus


@dataclass(frozen=True)
class RequestUpdated:
    request_id: str


@dataclass(frozen=True)
class CommitmentChanged:
    agency: str
    commitment_id: str
    status: CommitmentStatus


@dataclass(frozen=True)
class RequestClosed:
    request_id: str


@dataclass(frozen=True)
class TransitionRefused:
    """The message is not applied; the sender is told why and the input is kept."""

    reason: RejectionReason
    detail: str
    # The message could apply in no state of the request (a due date already passed): the
    # sender must change it, not wait for the request to move.
    content_fault: bool = False


Event = RequestOpened | RecipientChanged | RequestUpdated | CommitmentChanged | RequestClosed
Outcome = tuple[RequestState | None, list[Event | TransitionRefused]]
_Step = tuple[RequestState, list[Event | TransitionRefused]]


class _Refusal(RefusalError):
    """Raised inside a transition; ``apply`` turns it into a ``TransitionRefused`` event."""

    def __init__(self, reason: RejectionReason, detail: str, content_fault: bool = False) -> None:
        super().__init__(detail, code=reason.value)
        self.reason = reason
        self.content_fault = content_fault


def _illegal(detail: str) -> _Refusal:
    return _Refusal(RejectionReason.ILLEGAL_TRANSITION, detail)


def concerns_requests(message: Envelope) -> bool:
    """Whether ``message`` moves a request's lifecycle (requests, responses, placements)."""
    return message.family in (Family.REQUEST, Family.RESPONSE) or isinstance(
        message, PLACEMENT_MESSAGES
    )


def apply(
    state: RequestState | None, message: Envelope, now: datetime, rules: Rules | None = None
) -> Outcome:
    """Apply one message to the state of the request it belongs to.

    ``state`` is None when the ledger knows no request with the message's thread id.
    ``rules`` (their policy) set each recipient's deadlines when a request opens (the policy
    in force when it was sent); without them recipients get no deadlines. Returns the new
    state and the events; an illegal message returns the state unchanged and a single
    ``TransitionRefused`` event.
    """
    try:
        if isinstance(message, OPENING_REQUESTS):
            return _open(state, message, now, rules)
        if state is None:
            raise _Refusal(
                RejectionReason.UNKNOWN_REQUEST,
                f"no request {message.thread} is known to the Mechanism",
            )
        if state.closed_at is not None:
            raise _illegal(f"request {state.request_id} is closed: {_why_closed(state)}")
        handler = _HANDLERS.get(type(message))
        if handler is None:
            raise _illegal(f"{message.type} does not apply to a request")
        new_state, events = handler(state, message, now)
    except _Refusal as refusal:
        return state, [TransitionRefused(refusal.reason, refusal.detail, refusal.content_fault)]
    closed = _close_if_done(new_state, now)
    if closed is not new_state:
        events.append(RequestClosed(new_state.request_id))
    return closed, events


def _open(
    state: RequestState | None, message: Envelope, now: datetime, rules: Rules | None
) -> _Step:
    if state is not None:
        raise _illegal(f"request {message.id} was already sent")
    if message.correlation_id not in (None, message.id):
        raise _illegal("a new request opens its own thread: correlationid must be its id or absent")
    opened = RequestState(
        request_id=message.id,
        type=message.type,
        source=message.source,
        case_ref=message.subject,
        urgency=message.urgency,
        sent_at=now,
        recipients=tuple(
            _recipient(agency, message.urgency, now, rules) for agency in message.recipients
        ),
        expires=message.expires,
        updated_at=now,
        iachr_precautionary_measure=getattr(message.data, "iachr_precautionary_measure", None),
        board_session_id=getattr(message.data, "session_id", None),
    )
    return opened, [RequestOpened(message.id)]


def _recipient(agency: str, urgency: Urgency, now: datetime, rules: Rules | None) -> Recipient:
    if rules is None or rules.policy is None:
        return Recipient(agency)
    return Recipient(
        agency,
        ack_due=now + rules.policy.length(Clock.ACKNOWLEDGEMENT, urgency),
        answer_due=now + rules.policy.length(rules.answer_clock(agency), urgency),
    )


def _addressee(state: RequestState, message: Envelope) -> Recipient:
    recipient = state.recipient(message.source)
    if recipient is None:
        raise _Refusal(
            RejectionReason.NOT_ADDRESSED,
            f"request {state.request_id} is not addressed to {message.source}",
        )
    if recipient.status is RecipientStatus.CANCELLED:
        raise _illegal(f"request {state.request_id} was recalled; no answer is expected")
    return recipient


def _with_recipient(state: RequestState, updated: Recipient, now: datetime) -> RequestState:
    recipients = tuple(updated if r.agency == updated.agency else r for r in state.recipients)
    return replace(state, recipients=recipients, updated_at=now)


def _changed(state: RequestState, recipient: Recipient, now: datetime) -> _Step:
    return _with_recipient(state, recipient, now), [
        RecipientChanged(recipient.agency, recipient.status)
    ]


def _receipt(state: RequestState, message: Envelope, now: datetime) -> _Step:
    recipient = _addressee(state, message)
    if recipient.status is RecipientStatus.SENT:
        return _changed(
            state, replace(recipient, status=RecipientStatus.DELIVERED, delivered_at=now), now
        )
    if recipient.delivered_at is None:
        # Acknowledged before the technical receipt arrived: keep the receipt time anyway.
        return _with_recipient(state, replace(recipient, delivered_at=now), now), []
    return state, []  # a repeated receipt (redelivery on the agency side) changes nothing


def _acknowledge(state: RequestState, message: Envelope, now: datetime) -> _Step:
    assert isinstance(message, Acknowledgement)
    recipient = _addressee(state, message)
    if recipient.status not in UNANSWERED:
        raise _illegal(
            f"{message.source} already acknowledged request {state.request_id} "
            f"at {recipient.acknowledged_at}"
        )
    acknowledged = replace(
        recipient,
        status=RecipientStatus.ACKNOWLEDGED,
        delivered_at=recipient.delivered_at or now,
        acknowledged_at=now,
        acknowledged_by=message.data.official_role,
    )
    return _changed(state, acknowledged, now)


_DECISION_STATUS: dict[type[Envelope], RecipientStatus] = {
    Acceptance: RecipientStatus.ACCEPTED,
    Decline: RecipientStatus.DECLINED,
    ProvisionalAnswer: RecipientStatus.PROVISIONAL,
}


def _decide(state: RequestState, message: Envelope, now: datetime) -> _Step:
    recipient = _addressee(state, message)
    if recipient.status in UNANSWERED:
        raise _illegal(
            f"{message.source} must acknowledge request {state.request_id} before deciding"
        )
    if recipient.status not in DECIDABLE:
        raise _illegal(f"{message.source} already decided request {state.request_id}")
    note = None
    if isinstance(message, Decline):
        note = message.data.reason_code.value
    elif isinstance(message, ProvisionalAnswer):
        note = "provisional"
    decided = replace(
        recipient, status=_DECISION_STATUS[type(message)], decided_at=now, decision_note=note
    )
    return _changed(state, decided, now)


def _commit(state: RequestState, message: Envelope, now: datetime) -> _Step:
    assert isinstance(message, CommitmentMade)
    recipient = _addressee(state, message)
    if recipient.status not in MAY_COMMIT:
        raise _illegal(
            f"{message.source} must accept request {state.request_id} before committing "
            f"(its answer is {recipient.status.value})"
        )
    body = message.data
    if body.due <= now:
        raise _Refusal(
            RejectionReason.ILLEGAL_TRANSITION,
            f"commitment {body.commitment_id} is due {body.due}, which has passed",
            content_fault=True,
        )
    if state.commitment(body.commitment_id) is not None:
        raise _illegal(f"commitment {body.commitment_id} already exists on this request")
    commitment = Commitment(body.commitment_id, message.source, body.action, body.due, now)
    changed = replace(state, commitments=(*state.commitments, commitment), updated_at=now)
    return changed, [CommitmentChanged(message.source, body.commitment_id, commitment.status)]


_COMMITMENT_END: dict[type[Envelope], CommitmentStatus] = {
    ProgressReport: CommitmentStatus.IN_PROGRESS,
    CommitmentFulfilled: CommitmentStatus.FULFILLED,
    CommitmentPartiallyFulfilled: CommitmentStatus.PARTIALLY_FULFILLED,
    CommitmentWithdrawn: CommitmentStatus.WITHDRAWN,
}


def _commitment_step(state: RequestState, message: Envelope, now: datetime) -> _Step:
    _addressee(state, message)
    commitment_id: str = getattr(message.data, "commitment_id")  # noqa: B009 - all four have it
    commitment = state.commitment(commitment_id)
    if commitment is None:
        raise _illegal(f"no commitment {commitment_id} was made on request {state.request_id}")
    if commitment.agency != message.source:
        raise _illegal(f"commitment {commitment_id} was made by {commitment.agency}, not you")
    if commitment.status not in OPEN_COMMITMENT:
        raise _illegal(f"commitment {commitment_id} already ended ({commitment.status.value})")
    status = _COMMITMENT_END[type(message)]
    if status is CommitmentStatus.IN_PROGRESS:
        updated = replace(commitment, status=status, last_progress_at=now)
    else:
        updated = replace(commitment, status=status, ended_at=now)
    commitments = tuple(updated if c is commitment else c for c in state.commitments)
    changed = replace(state, commitments=commitments, updated_at=now)
    return changed, [CommitmentChanged(message.source, commitment_id, status)]


def _recall(state: RequestState, message: Envelope, now: datetime) -> _Step:
    unknown = [a for a in message.recipients if state.recipient(a) is None]
    if unknown:
        raise _Refusal(
            RejectionReason.NOT_ADDRESSED,
            f"request {state.request_id} was never addressed to {', '.join(unknown)}",
        )
    recalled = set(message.recipients)
    events: list[Event | TransitionRefused] = []
    recipients = []
    for recipient in state.recipients:
        if recipient.agency in recalled and recipient.status not in FINAL_RECIPIENT:
            recipient = replace(recipient, status=RecipientStatus.CANCELLED, decided_at=now)
            events.append(RecipientChanged(recipient.agency, recipient.status))
        recipients.append(recipient)
    if not events:
        raise _illegal(f"request {state.request_id} has nothing left to recall")
    return replace(state, recipients=tuple(recipients), updated_at=now), events


def _update(state: RequestState, message: Envelope, now: datetime) -> _Step:
    if all(r.status in FINAL_RECIPIENT for r in state.recipients):
        raise _illegal(f"request {state.request_id} was recalled or declined by everyone")
    return replace(state, updated_at=now), [RequestUpdated(state.request_id)]


def _close_if_done(state: RequestState, now: datetime) -> RequestState:
    """A request closes once no recipient owes an answer and every commitment has ended."""
    if state.closed_at is not None:
        return state
    if any(c.status in OPEN_COMMITMENT for c in state.commitments):
        return state
    for recipient in state.recipients:
        if recipient.status in FINAL_RECIPIENT:
            continue
        committed = any(c.agency == recipient.agency for c in state.commitments)
        if recipient.status is RecipientStatus.ACCEPTED and committed:
            continue
        return state
    return replace(state, closed_at=now)


def _offer(state: RequestState, message: Envelope, now: datetime) -> _Step:
    recipient = _addressee(state, message)
    if state.type != RELOCATION:
        raise _illegal(f"placement offers answer relocation requests, not {state.type}")
    if recipient.status not in MAY_OFFER:
        raise _illegal(f"{message.source} already answered relocation {state.request_id}")
    return _changed(state, replace(recipient, status=RecipientStatus.OFFERED, decided_at=now), now)


def _shelter_addressed(state: RequestState, message: Envelope) -> Recipient:
    """The shelter a federal placement message is about (its one recipient)."""
    shelter = message.recipients[0]
    recipient = state.recipient(shelter)
    if recipient is None:
        raise _Refusal(
            RejectionReason.NOT_ADDRESSED,
            f"relocation {state.request_id} was never sent to {shelter}",
        )
    return recipient


def _confirm(state: RequestState, message: Envelope, now: datetime) -> _Step:
    assert isinstance(message, PlacementConfirmed)
    if message.recipients != (message.data.shelter,):
        raise _illegal("a placement confirmation goes to the confirmed shelter only")
    recipient = _shelter_addressed(state, message)
    housed = [r.agency for r in state.recipients if r.status in HOUSED]
    if housed:
        raise _illegal(f"relocation {state.request_id} is already placed with {housed[0]}")
    if recipient.status is not RecipientStatus.OFFERED:
        raise _illegal(f"{recipient.agency} made no offer for relocation {state.request_id}")
    return _changed(state, replace(recipient, status=RecipientStatus.PLACED, decided_at=now), now)


def _release(state: RequestState, message: Envelope, now: datetime) -> _Step:
    recipient = _shelter_addressed(state, message)
    if recipient.status is not RecipientStatus.OFFERED:
        raise _illegal(f"{recipient.agency} holds no open offer for {state.request_id}")
    return _changed(state, replace(recipient, status=RecipientStatus.RELEASED), now)


def _arrived(state: RequestState, message: Envelope, now: datetime) -> _Step:
    recipient = _addressee(state, message)
    if recipient.status is not RecipientStatus.PLACED:
        raise _illegal(f"nobody was placed with {message.source} for {state.request_id}")
    return _changed(state, replace(recipient, status=RecipientStatus.ARRIVED), now)


def _ended(state: RequestState, message: Envelope, now: datetime) -> _Step:
    recipient = _addressee(state, message)
    if recipient.status not in HOUSED:
        raise _illegal(f"nobody is housed with {message.source} for {state.request_id}")
    return _changed(state, replace(recipient, status=RecipientStatus.DEPARTED), now)


def _why_closed(state: RequestState) -> str:
    if all(r.status is RecipientStatus.CANCELLED for r in state.recipients):
        return "the Mechanism recalled it"
    if all(r.status in FINAL_RECIPIENT for r in state.recipients):
        return "it was recalled or declined by every recipient"
    return (
        "all its commitments have ended and nobody owes an answer; a further action needs "
        "a new request from the Mechanism"
    )


_Handler = Callable[[RequestState, Envelope, datetime], _Step]
_HANDLERS: dict[type[Envelope], _Handler] = {
    DeliveryReceipt: _receipt,
    Acknowledgement: _acknowledge,
    Acceptance: _decide,
    Decline: _decide,
    ProvisionalAnswer: _decide,
    CommitmentMade: _commit,
    ProgressReport: _commitment_step,
    CommitmentFulfilled: _commitment_step,
    CommitmentPartiallyFulfilled: _commitment_step,
    CommitmentWithdrawn: _commitment_step,
    RequestRecall: _recall,
    RequestUpdate: _update,
    PlacementOffer: _offer,
    PlacementConfirmed: _confirm,
    OfferReleased: _release,
    PlacementArrived: _arrived,
    PlacementEnded: _ended,
}
