"""The transitions of a request: what each answer, commitment and placement message may do.

Each handler takes the state, the message and ``now`` and returns the new state and its
events, or raises ``TransitionRefusal``; ``bus.domain.lifecycle.apply`` dispatches through
``HANDLERS`` and turns a refusal into a ``TransitionRefused`` event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bus.domain.errors import RefusalError
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
    Recipient,
    RecipientChanged,
    RecipientStatus,
    RequestState,
    RequestUpdated,
    Step,
    TransitionRefused,
)
from schemas.capacity import (
    OfferReleased,
    PlacementArrived,
    PlacementConfirmed,
    PlacementEnded,
    PlacementOffer,
)
from schemas.envelope import Envelope
from schemas.requests import RequestRecall, RequestUpdate
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


class TransitionRefusal(RefusalError):
    """Raised inside a transition; ``apply`` turns it into a ``TransitionRefused`` event."""

    def __init__(self, reason: RejectionReason, detail: str, content_fault: bool = False) -> None:
        super().__init__(detail, code=reason.value)
        self.reason = reason
        self.content_fault = content_fault


def illegal(detail: str) -> TransitionRefusal:
    return TransitionRefusal(RejectionReason.ILLEGAL_TRANSITION, detail)


def _addressee(state: RequestState, message: Envelope) -> Recipient:
    recipient = state.recipient(message.source)
    if recipient is None:
        raise TransitionRefusal(
            RejectionReason.NOT_ADDRESSED,
            f"request {state.request_id} is not addressed to {message.source}",
        )
    if recipient.status is RecipientStatus.CANCELLED:
        raise illegal(f"request {state.request_id} was recalled; no answer is expected")
    return recipient


def _with_recipient(state: RequestState, updated: Recipient, now: datetime) -> RequestState:
    recipients = tuple(updated if r.agency == updated.agency else r for r in state.recipients)
    return replace(state, recipients=recipients, updated_at=now)


def _changed(state: RequestState, recipient: Recipient, now: datetime) -> Step:
    return _with_recipient(state, recipient, now), [
        RecipientChanged(recipient.agency, recipient.status)
    ]


def _receipt(state: RequestState, message: Envelope, now: datetime) -> Step:
    recipient = _addressee(state, message)
    if recipient.status is RecipientStatus.SENT:
        return _changed(
            state, replace(recipient, status=RecipientStatus.DELIVERED, delivered_at=now), now
        )
    if recipient.delivered_at is None:
        # Acknowledged before the technical receipt arrived: keep the receipt time anyway.
        return _with_recipient(state, replace(recipient, delivered_at=now), now), []
    return state, []  # a repeated receipt (redelivery on the agency side) changes nothing


def _acknowledge(state: RequestState, message: Envelope, now: datetime) -> Step:
    assert isinstance(message, Acknowledgement)
    recipient = _addressee(state, message)
    if recipient.status not in UNANSWERED:
        raise illegal(
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


def _decide(state: RequestState, message: Envelope, now: datetime) -> Step:
    recipient = _addressee(state, message)
    if recipient.status in UNANSWERED:
        raise illegal(
            f"{message.source} must acknowledge request {state.request_id} before deciding"
        )
    if recipient.status not in DECIDABLE:
        raise illegal(f"{message.source} already decided request {state.request_id}")
    note = None
    if isinstance(message, Decline):
        note = message.data.reason_code.value
    elif isinstance(message, ProvisionalAnswer):
        note = "provisional"
    decided = replace(
        recipient, status=_DECISION_STATUS[type(message)], decided_at=now, decision_note=note
    )
    return _changed(state, decided, now)


def _commit(state: RequestState, message: Envelope, now: datetime) -> Step:
    assert isinstance(message, CommitmentMade)
    recipient = _addressee(state, message)
    if recipient.status not in MAY_COMMIT:
        raise illegal(
            f"{message.source} must accept request {state.request_id} before committing "
            f"(its answer is {recipient.status.value})"
        )
    body = message.data
    if body.due <= now:
        raise TransitionRefusal(
            RejectionReason.ILLEGAL_TRANSITION,
            f"commitment {body.commitment_id} is due {body.due}, which has passed",
            content_fault=True,
        )
    if state.commitment(body.commitment_id) is not None:
        raise illegal(f"commitment {body.commitment_id} already exists on this request")
    # Every commitment on the request, a recommitment too, is held to the request's one limit:
    # the law counts from the measures, not from the promise.
    commitment = Commitment(
        body.commitment_id,
        message.source,
        body.action,
        body.due,
        now,
        legal_limit=state.legal_limit,
    )
    changed = replace(state, commitments=(*state.commitments, commitment), updated_at=now)
    return changed, [CommitmentChanged(message.source, body.commitment_id, commitment.status)]


_COMMITMENT_END: dict[type[Envelope], CommitmentStatus] = {
    ProgressReport: CommitmentStatus.IN_PROGRESS,
    CommitmentFulfilled: CommitmentStatus.FULFILLED,
    CommitmentPartiallyFulfilled: CommitmentStatus.PARTIALLY_FULFILLED,
    CommitmentWithdrawn: CommitmentStatus.WITHDRAWN,
}


def _commitment_step(state: RequestState, message: Envelope, now: datetime) -> Step:
    _addressee(state, message)
    commitment_id: str = getattr(message.data, "commitment_id")  # noqa: B009 - all four have it
    commitment = state.commitment(commitment_id)
    if commitment is None:
        raise illegal(f"no commitment {commitment_id} was made on request {state.request_id}")
    if commitment.agency != message.source:
        raise illegal(f"commitment {commitment_id} was made by {commitment.agency}, not you")
    if commitment.status not in OPEN_COMMITMENT:
        raise illegal(f"commitment {commitment_id} already ended ({commitment.status.value})")
    status = _COMMITMENT_END[type(message)]
    if status is CommitmentStatus.IN_PROGRESS:
        updated = replace(commitment, status=status, last_progress_at=now)
    else:
        updated = replace(commitment, status=status, ended_at=now)
    commitments = tuple(updated if c is commitment else c for c in state.commitments)
    changed = replace(state, commitments=commitments, updated_at=now)
    return changed, [CommitmentChanged(message.source, commitment_id, status)]


def _recall(state: RequestState, message: Envelope, now: datetime) -> Step:
    unknown = [a for a in message.recipients if state.recipient(a) is None]
    if unknown:
        raise TransitionRefusal(
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
        raise illegal(f"request {state.request_id} has nothing left to recall")
    return replace(state, recipients=tuple(recipients), updated_at=now), events


def _update(state: RequestState, message: Envelope, now: datetime) -> Step:
    if all(r.status in FINAL_RECIPIENT for r in state.recipients):
        raise illegal(f"request {state.request_id} was recalled or declined by everyone")
    return replace(state, updated_at=now), [RequestUpdated(state.request_id)]


def _offer(state: RequestState, message: Envelope, now: datetime) -> Step:
    recipient = _addressee(state, message)
    if state.type != RELOCATION:
        raise illegal(f"placement offers answer relocation requests, not {state.type}")
    if recipient.status not in MAY_OFFER:
        raise illegal(f"{message.source} already answered relocation {state.request_id}")
    return _changed(state, replace(recipient, status=RecipientStatus.OFFERED, decided_at=now), now)


def _shelter_addressed(state: RequestState, message: Envelope) -> Recipient:
    """The shelter a federal placement message is about (its one recipient)."""
    shelter = message.recipients[0]
    recipient = state.recipient(shelter)
    if recipient is None:
        raise TransitionRefusal(
            RejectionReason.NOT_ADDRESSED,
            f"relocation {state.request_id} was never sent to {shelter}",
        )
    return recipient


def _confirm(state: RequestState, message: Envelope, now: datetime) -> Step:
    assert isinstance(message, PlacementConfirmed)
    if message.recipients != (message.data.shelter,):
        raise illegal("a placement confirmation goes to the confirmed shelter only")
    recipient = _shelter_addressed(state, message)
    housed = [r.agency for r in state.recipients if r.status in HOUSED]
    if housed:
        raise illegal(f"relocation {state.request_id} is already placed with {housed[0]}")
    if recipient.status is not RecipientStatus.OFFERED:
        raise illegal(f"{recipient.agency} made no offer for relocation {state.request_id}")
    return _changed(state, replace(recipient, status=RecipientStatus.PLACED, decided_at=now), now)


def _release(state: RequestState, message: Envelope, now: datetime) -> Step:
    recipient = _shelter_addressed(state, message)
    if recipient.status is not RecipientStatus.OFFERED:
        raise illegal(f"{recipient.agency} holds no open offer for {state.request_id}")
    return _changed(state, replace(recipient, status=RecipientStatus.RELEASED), now)


def _arrived(state: RequestState, message: Envelope, now: datetime) -> Step:
    recipient = _addressee(state, message)
    if recipient.status is not RecipientStatus.PLACED:
        raise illegal(f"nobody was placed with {message.source} for {state.request_id}")
    return _changed(state, replace(recipient, status=RecipientStatus.ARRIVED), now)


def _ended(state: RequestState, message: Envelope, now: datetime) -> Step:
    recipient = _addressee(state, message)
    if recipient.status not in HOUSED:
        raise illegal(f"nobody is housed with {message.source} for {state.request_id}")
    return _changed(state, replace(recipient, status=RecipientStatus.DEPARTED), now)


Handler = Callable[[RequestState, Envelope, datetime], Step]
HANDLERS: dict[type[Envelope], Handler] = {
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
