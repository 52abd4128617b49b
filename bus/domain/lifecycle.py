"""The request lifecycle as a pure function: apply(state, message, now) -> (state, events).

No I/O and no clock reads: the hub passes ``now`` (its receive time, which is what counts for
accountability: an agency cannot backdate its acknowledgement by setting ``time``). The state
and its events are in ``bus.domain.request_state``, each message's transition in
``bus.domain.transitions``; this module opens and closes requests and dispatches the rest.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bus.domain.legal_limit import legal_limit
from bus.domain.policy import Clock
from bus.domain.request_state import (
    DECIDABLE,
    FINAL_RECIPIENT,
    HOUSED,
    MAY_COMMIT,
    MAY_OFFER,
    OPEN_COMMITMENT,
    RELOCATION,
    UNANSWERED,
    Commitment,
    CommitmentChanged,
    CommitmentStatus,
    Event,
    Outcome,
    Recipient,
    RecipientChanged,
    RecipientStatus,
    RequestClosed,
    RequestOpened,
    RequestState,
    RequestUpdated,
    Step,
    TransitionRefused,
)
from bus.domain.rules import Rules
from bus.domain.transitions import HANDLERS, TransitionRefusal, illegal
from schemas.capacity import PLACEMENT_MESSAGES
from schemas.envelope import Envelope, Family, Urgency
from schemas.requests import OPENING_REQUESTS
from schemas.tracking import RejectionReason

# What callers have always imported from here; defined next door.
__all__ = [
    "DECIDABLE",
    "FINAL_RECIPIENT",
    "HOUSED",
    "MAY_COMMIT",
    "MAY_OFFER",
    "OPEN_COMMITMENT",
    "RELOCATION",
    "UNANSWERED",
    "Commitment",
    "CommitmentChanged",
    "CommitmentStatus",
    "Event",
    "Outcome",
    "Recipient",
    "RecipientChanged",
    "RecipientStatus",
    "RequestClosed",
    "RequestOpened",
    "RequestState",
    "RequestUpdated",
    "TransitionRefused",
    "apply",
    "concerns_requests",
]


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
            raise TransitionRefusal(
                RejectionReason.UNKNOWN_REQUEST,
                f"no request {message.thread} is known to the Mechanism",
            )
        if state.closed_at is not None:
            raise illegal(f"request {state.request_id} is closed: {_why_closed(state)}")
        handler = HANDLERS.get(type(message))
        if handler is None:
            raise illegal(f"{message.type} does not apply to a request")
        new_state, events = handler(state, message, now)
    except TransitionRefusal as refusal:
        return state, [TransitionRefused(refusal.reason, refusal.detail, refusal.content_fault)]
    closed = _close_if_done(new_state, now)
    if closed is not new_state:
        events.append(RequestClosed(new_state.request_id))
    return closed, events


def _open(
    state: RequestState | None, message: Envelope, now: datetime, rules: Rules | None
) -> Step:
    if state is not None:
        raise illegal(f"request {message.id} was already sent")
    if message.correlation_id not in (None, message.id):
        raise illegal("a new request opens its own thread: correlationid must be its id or absent")
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
        legal_limit=legal_limit(message, now, rules.policy if rules else None),
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


def _why_closed(state: RequestState) -> str:
    if all(r.status is RecipientStatus.CANCELLED for r in state.recipients):
        return "the Mechanism recalled it"
    if all(r.status in FINAL_RECIPIENT for r in state.recipients):
        return "it was recalled or declined by every recipient"
    return (
        "all its commitments have ended and nobody owes an answer; a further action needs "
        "a new request from the Mechanism"
    )
