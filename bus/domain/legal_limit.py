"""The legal limit on a commitment to implement protection measures, and the date the ladder
chases it at.

The law limits how long measures may take: urgent ones are implemented within 9 hours of being
issued (LPPDDHP art. 26 fr. II), ordinary ones within 30 natural days of the Board's decision
(art. 29 fr. II); the policy's ``implementation`` clock holds both lengths. A commitment whose
due date is later than the limit is recorded all the same (an agency's promise is evidence),
flagged, and chased at the limit rather than at the date it promised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bus.domain.policy import Clock, Policy
from bus.domain.request_state import RequestState
from schemas.envelope import Envelope, Urgency
from schemas.requests import ProtectionMeasureRequest

BEYOND_THE_LEGAL_LIMIT = "beyond the legal limit"


def limit_starts(message: Envelope, recorded_at: datetime) -> datetime | None:
    """When the implementation clock of a request starts, or None when no law limits it.

    Urgent: when the Mechanism issued the measures (the request's ``time``). Ordinary: when the
    Board decided them (``decided_at``), else the request's ``time``. Neither may be later
    than the moment the request was recorded: a date in the future would lengthen the law.
    """
    if not isinstance(message, ProtectionMeasureRequest):
        return None
    start = message.time
    if message.urgency is Urgency.ORDINARY and message.data.decided_at is not None:
        start = message.data.decided_at
    return min(start, recorded_at)


def legal_limit(message: Envelope, recorded_at: datetime, policy: Policy | None) -> datetime | None:
    """The latest moment the law allows the measures of ``message`` to be implemented by."""
    start = limit_starts(message, recorded_at)
    if start is None or policy is None or not policy.runs(Clock.IMPLEMENTATION, message.urgency):
        return None
    return start + policy.length(Clock.IMPLEMENTATION, message.urgency)


def beyond(due: datetime, limit: datetime | None) -> bool:
    """Whether a commitment due at ``due`` promises more time than the law allows."""
    return limit is not None and due > limit


def chased_at(due: datetime, limit: datetime | None) -> datetime:
    """When the ladder holds a commitment due: its promised date, or the limit if earlier."""
    return due if limit is None else min(due, limit)


def chased_from(
    made_at: datetime, due: datetime, limit: datetime | None, opened_at: datetime
) -> datetime:
    """When the ladder's period for a commitment starts.

    A commitment within the limit runs from when it was made to its due date, as always. One
    held to the limit runs the law's clock, from the request's recording to the limit, so that
    a commitment made late in (or after) that clock still climbs the ladder in steps.
    """
    return made_at if not beyond(due, limit) else min(made_at, opened_at)


def notice(state: RequestState | None, commitment_id: str) -> str | None:
    """What to tell the agency whose commitment ``commitment_id`` on ``state`` is promised
    later than the law allows (it is recorded all the same); None when it is within."""
    made = state.commitment(commitment_id) if state is not None else None
    if made is None or made.legal_limit is None or not made.beyond_legal_limit:
        return None
    return (
        f"{BEYOND_THE_LEGAL_LIMIT}: commitment {commitment_id} is due {made.due.isoformat()}, "
        f"later than the legal limit {made.legal_limit.isoformat()}; it is recorded and "
        "flagged, and the escalation ladder chases it at the limit"
    )


class DateProblem(StrEnum):
    PAST = "past"  # the date to implement by has passed already
    BEYOND = "beyond"  # later than the law allows


@dataclass(frozen=True)
class ImplementByProblem:
    """What is wrong with the date a protection measure asks to be implemented by."""

    problem: DateProblem
    implement_by: datetime
    limit: datetime | None


def implement_by_problem(
    message: Envelope, now: datetime, policy: Policy | None
) -> ImplementByProblem | None:
    """Why the ``implement_by`` of a protection measure sent ``now`` cannot be asked for: a
    moment that has passed, or one later than the legal limit; None when it can (or is absent).
    """
    if not isinstance(message, ProtectionMeasureRequest) or message.data.implement_by is None:
        return None
    return date_problem(message.data.implement_by, now, lambda: legal_limit(message, now, policy))


def date_problem(
    due: datetime, now: datetime, limit: Callable[[], datetime | None]
) -> ImplementByProblem | None:
    """Why ``due`` cannot be asked for ``now`` under the legal limit ``limit()`` (looked up only
    for a date in the future): it has passed, or it is later than the limit."""
    if due <= now:
        return ImplementByProblem(DateProblem.PAST, due, None)
    latest = limit()
    if beyond(due, latest):
        return ImplementByProblem(DateProblem.BEYOND, due, latest)
    return None
