"""The state of a request as the lifecycle keeps it, and the events a transition yields.

Plain frozen values: the ledger stores them, ``bus.domain.lifecycle`` computes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from schemas.envelope import Urgency
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
    # The latest moment the law allows (bus.domain.legal_limit); None when no law limits it
    legal_limit: datetime | None = None

    @property
    def beyond_legal_limit(self) -> bool:
        """Promised later than the law allows: recorded, flagged, and chased at the limit."""
        return self.legal_limit is not None and self.due > self.legal_limit

    def overdue(self, now: datetime) -> bool:
        """Past due (or past its legal limit, when that is earlier) and still open: a breach,
        computed from the clock, never stored."""
        held_to = self.due if self.legal_limit is None else min(self.due, self.legal_limit)
        return self.status in OPEN_COMMITMENT and now > held_to


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
    # Protection measures: the legal limit on any commitment to implement them, set when the
    # request opens under the policy then in force (bus.domain.legal_limit)
    legal_limit: datetime | None = None

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
Step = tuple[RequestState, list[Event | TransitionRefused]]
