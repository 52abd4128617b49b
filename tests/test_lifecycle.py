"""Table-driven tests of the pure request lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bus.domain.lifecycle import (
    CommitmentStatus,
    RecipientStatus,
    RequestClosed,
    RequestState,
    TransitionRefused,
    apply,
)
from bus.domain.policy import Clock, Policy
from bus.domain.rules import Rules
from schemas.registry import AgencyKind, AgencyRegistry, active_registry
from schemas.tracking import RejectionReason
from tests import builders as b

NOW = b.T0 + timedelta(minutes=5)
REQ = b.patrol_request()
RID = REQ.id

Step = Callable[[], Any]


def run(steps: list[Any]) -> RequestState:
    state, events = apply(None, REQ, b.T0)
    assert state is not None and not any(isinstance(e, TransitionRefused) for e in events)
    for message in steps:
        state, events = apply(state, message, NOW)
        assert state is not None
        assert not any(isinstance(e, TransitionRefused) for e in events), events
    return state


receipt = b.receipt(RID)
ack = b.acknowledgement(RID)
accept = b.acceptance(RID)

# (name, messages applied first, message under test, expected recipient status)
ALLOWED = [
    ("receipt", [], receipt, RecipientStatus.DELIVERED),
    ("ack after receipt", [receipt], ack, RecipientStatus.ACKNOWLEDGED),
    ("ack before receipt", [], ack, RecipientStatus.ACKNOWLEDGED),
    ("late receipt keeps ack", [ack], receipt, RecipientStatus.ACKNOWLEDGED),
    ("repeated receipt", [receipt], b.receipt(RID), RecipientStatus.DELIVERED),
    ("accept", [receipt, ack], accept, RecipientStatus.ACCEPTED),
    ("decline", [ack], b.decline(RID), RecipientStatus.DECLINED),
    ("provisional", [ack], b.provisional(RID), RecipientStatus.PROVISIONAL),
    ("accept after provisional", [ack, b.provisional(RID)], accept, RecipientStatus.ACCEPTED),
    ("recall unanswered", [], b.recall(RID), RecipientStatus.CANCELLED),
    ("recall acknowledged", [ack], b.recall(RID), RecipientStatus.CANCELLED),
]


@pytest.mark.parametrize(("name", "before", "message", "expected"), ALLOWED, ids=lambda v: v)
def test_allowed_transitions(name: str, before: list[Any], message: Any, expected: Any) -> None:
    state = run(before)
    new_state, events = apply(state, message, NOW)
    assert new_state is not None
    assert not any(isinstance(e, TransitionRefused) for e in events)
    recipient = new_state.recipient("gro.government")
    assert recipient is not None and recipient.status is expected


# (name, messages applied first, message under test, reason, words in the detail)
REFUSED = [
    (
        "ack by agency not addressed",
        [],
        b.acknowledgement(RID, by="ver.government"),
        RejectionReason.NOT_ADDRESSED,
        "not addressed to ver.government",
    ),
    (
        "second ack",
        [ack],
        b.acknowledgement(RID),
        RejectionReason.ILLEGAL_TRANSITION,
        "already acknowledged",
    ),
    (
        "accept before ack",
        [receipt],
        accept,
        RejectionReason.ILLEGAL_TRANSITION,
        "must acknowledge",
    ),
    (
        "decide twice",
        [ack, accept],
        b.decline(RID),
        RejectionReason.ILLEGAL_TRANSITION,
        "already decided",
    ),
    ("answer after recall", [b.recall(RID)], ack, RejectionReason.ILLEGAL_TRANSITION, "recalled"),
    (
        "commit before accept",
        [ack],
        b.commitment(RID),
        RejectionReason.ILLEGAL_TRANSITION,
        "must accept",
    ),
    (
        "commitment due in the past",
        [ack, accept],
        b.commitment(RID, due=NOW - timedelta(hours=1)),
        RejectionReason.ILLEGAL_TRANSITION,
        "has passed",
    ),
    (
        "same commitment twice",
        [ack, accept, b.commitment(RID)],
        b.commitment(RID),
        RejectionReason.ILLEGAL_TRANSITION,
        "already exists",
    ),
    (
        "progress on unknown commitment",
        [ack, accept],
        b.progress(RID, "C9"),
        RejectionReason.ILLEGAL_TRANSITION,
        "no commitment C9",
    ),
    (
        "fulfil after withdrawal",
        [ack, accept, b.commitment(RID), b.commitment(RID, "C2"), b.withdrawn(RID)],
        b.fulfilled(RID),
        RejectionReason.ILLEGAL_TRANSITION,
        "already ended",
    ),
    (
        "recall twice",
        [b.recall(RID)],
        b.recall(RID),
        RejectionReason.ILLEGAL_TRANSITION,
        "the Mechanism recalled it",
    ),
    (
        "recall for another agency",
        [],
        b.recall(RID, to="ver.government"),
        RejectionReason.NOT_ADDRESSED,
        "never addressed",
    ),
    ("same request id twice", [], REQ, RejectionReason.ILLEGAL_TRANSITION, "already sent"),
]


@pytest.mark.parametrize(("name", "before", "message", "reason", "words"), REFUSED, ids=lambda v: v)
def test_refused_transitions(
    name: str, before: list[Any], message: Any, reason: RejectionReason, words: str
) -> None:
    state = run(before)
    new_state, events = apply(state, message, NOW)
    assert new_state == state  # nothing changed
    assert len(events) == 1 and isinstance(events[0], TransitionRefused)
    assert events[0].reason is reason
    assert words in events[0].detail


def test_response_to_unknown_request() -> None:
    state, events = apply(None, b.acknowledgement("01NOSUCHREQUEST0000000000"), NOW)
    assert state is None
    assert events == [TransitionRefused(RejectionReason.UNKNOWN_REQUEST, events[0].detail)]  # type: ignore[union-attr]
    assert "01NOSUCHREQUEST" in events[0].detail  # type: ignore[union-attr]


def test_fulfilment_by_agency_that_did_not_commit() -> None:
    request = b.patrol_request(recipients=("gro.government", "gro.prosecutor"))
    state, _ = apply(None, request, b.T0)
    for message in [
        b.acknowledgement(request.id),
        b.acceptance(request.id),
        b.commitment(request.id),
        b.acknowledgement(request.id, by="gro.prosecutor"),
        b.acceptance(request.id, by="gro.prosecutor"),
    ]:
        state, _ = apply(state, message, NOW)
    _, events = apply(state, b.fulfilled(request.id, by="gro.prosecutor"), NOW)
    assert isinstance(events[0], TransitionRefused) and "made by gro.government" in events[0].detail


def test_times_are_the_hubs_clock_not_the_senders() -> None:
    late = b.T0 + timedelta(hours=30)
    backdated = b.acknowledgement(RID, at=b.T0 - timedelta(days=1))
    state, _ = apply(run([]), backdated, late)
    assert state is not None
    recipient = state.recipient("gro.government")
    assert recipient is not None and recipient.acknowledged_at == late


def test_commitments_run_to_fulfilment_and_close_the_request() -> None:
    state = run([ack, accept, b.commitment(RID), b.progress(RID)])
    commitment = state.commitment("C1")
    assert commitment is not None and commitment.status is CommitmentStatus.IN_PROGRESS
    assert commitment.overdue(NOW + timedelta(days=4))
    assert not commitment.overdue(NOW)
    state, events = apply(state, b.fulfilled(RID), NOW)
    assert state is not None and state.closed_at == NOW
    assert RequestClosed(RID) in events
    _, events = apply(state, b.progress(RID), NOW)
    assert isinstance(events[0], TransitionRefused) and "closed" in events[0].detail


def test_decline_by_every_recipient_closes() -> None:
    state = run([ack])
    state2, events = apply(state, b.decline(RID), NOW)
    assert state2 is not None and state2.closed_at == NOW and RequestClosed(RID) in events


def test_the_clock_is_an_argument() -> None:
    one, _ = apply(None, REQ, b.T0)
    two, _ = apply(None, REQ, b.T0 + timedelta(days=1))
    assert one is not None and two is not None
    assert one.sent_at == b.T0 and two.sent_at == b.T0 + timedelta(days=1)


# The rule: a request closes once nobody owes an answer and every commitment on it has ended
# (fulfilled, in part or in full, or withdrawn). A closed request takes nothing more: a
# further action needs a new request from the Mechanism.
ENDINGS = [("fulfilled", b.fulfilled), ("partly", b.partly_fulfilled), ("withdrawn", b.withdrawn)]


@pytest.mark.parametrize(("name", "end"), ENDINGS, ids=lambda v: v if isinstance(v, str) else "")
def test_ending_the_last_commitment_closes_the_request(name: str, end: Step) -> None:
    state = run([ack, accept, b.commitment(RID)])
    closed, events = apply(state, end(RID), NOW)  # type: ignore[call-arg]
    assert closed is not None and closed.closed_at == NOW and RequestClosed(RID) in events
    recipient = closed.recipient("gro.government")
    assert recipient is not None and recipient.status is RecipientStatus.ACCEPTED
    _, events = apply(closed, b.commitment(RID, "C2", due=NOW + timedelta(days=3)), NOW)
    [refusal] = events
    assert isinstance(refusal, TransitionRefused) and not refusal.content_fault
    assert refusal.reason is RejectionReason.ILLEGAL_TRANSITION
    assert "is closed" in refusal.detail and "needs a new request" in refusal.detail


def test_a_request_stays_open_while_someone_owes_an_answer() -> None:
    request = b.patrol_request(recipients=("gro.government", "gro.prosecutor"))
    state, _ = apply(None, request, b.T0)
    for message in [
        b.acknowledgement(request.id),
        b.acceptance(request.id),
        b.commitment(request.id),
        b.fulfilled(request.id),
        b.commitment(request.id, "C2", due=NOW + timedelta(days=3)),  # still open: allowed
    ]:
        state, events = apply(state, message, NOW)
        assert not any(isinstance(e, TransitionRefused) for e in events), events
    assert state is not None and state.closed_at is None


def test_a_due_date_already_passed_is_a_fault_of_the_message_itself() -> None:
    state = run([ack, accept])
    _, events = apply(state, b.commitment(RID, due=NOW - timedelta(hours=1)), NOW)
    [refusal] = events
    assert isinstance(refusal, TransitionRefused) and refusal.content_fault


def _registry_where(kinds: dict[str, AgencyKind]) -> AgencyRegistry:
    """The shipped registry with some agencies of another kind: a deployment's own registry."""
    return AgencyRegistry(
        [a.model_copy(update={"kind": kinds.get(a.id, a.kind)}) for a in b.REGISTRY]
    )


@pytest.mark.parametrize(
    ("kinds", "clock", "answer_in"),
    [
        ({}, Clock.ANSWER, timedelta(hours=3)),
        ({"gro.government": AgencyKind.SHELTER}, Clock.SHELTER_ANSWER, timedelta(hours=2)),
    ],
    ids=["shipped-registry", "registry-passed-in"],
)
def test_deadlines_follow_the_registry_passed_in(
    kinds: dict[str, AgencyKind], clock: Clock, answer_in: timedelta
) -> None:
    """The urgent request's answer is due on the clock of the recipient's kind in the registry
    the caller passes; the process-wide registry is neither read nor changed."""
    rules = Rules(_registry_where(kinds), Policy.load())
    assert rules.answer_clock("gro.government") is clock
    state, _ = apply(None, REQ, b.T0, rules)
    assert state is not None
    [recipient] = state.recipients
    assert (recipient.ack_due, recipient.answer_due) == (
        b.T0 + timedelta(hours=1),
        b.T0 + answer_in,
    )
    assert active_registry()["gro.government"].kind is AgencyKind.GOVERNMENT


def test_without_rules_no_deadlines() -> None:
    state, _ = apply(None, REQ, b.T0)
    assert state is not None and state.recipients[0].answer_due is None
