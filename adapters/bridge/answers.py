"""What becomes of a message an agency posts: checked by the hub's intake on the subject it
goes out on, judged by the lifecycle against the request as the ledger knows it, published,
then followed until the hub has recorded it (202) or refused it (409, 422), so that the
agency learns the verdict in the answer instead of only as a later ``rejected`` notice."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from adapters.bridge.problems import FieldProblem, ProblemError, schema_violation
from adapters.bridge.publisher import Publisher, Unavailable
from adapters.ledger.store import SqlLedger
from adapters.readmodel import agency as agency_view
from bus.domain import intake, legal_limit, subjects
from bus.domain.lifecycle import TransitionRefused, apply, concerns_requests
from schemas.envelope import Envelope
from schemas.registry import active_registry
from schemas.responses import CommitmentMade
from schemas.tracking import RejectionReason

log = logging.getLogger("mechbus.bridge")

# How long an answer waits for the hub to record what it published. Long enough for a hub
# that keeps up (tens of milliseconds); past it the answer says so and the verdict, if any,
# comes as a ``rejected`` notice.
SETTLE_SECONDS = 5.0

# Refusals that depend on where the request stands: waiting or another step may change them.
CONFLICTS = frozenset(
    {RejectionReason.ILLEGAL_TRANSITION, RejectionReason.DUPLICATE, RejectionReason.NO_CAPACITY}
)


class Published(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str
    type: str
    nats_subject: str
    duplicate: bool = Field(
        description="the ledger had this message already (a retried receipt): not sent again"
    )
    recorded: bool = Field(
        description="the hub recorded it before this answer; false: published, and the hub "
        "had not recorded it yet (a refusal would then come as a rejected notice)"
    )
    notice: str | None = Field(
        default=None,
        description='accepted, but worth knowing: "beyond the legal limit: ..." for a '
        "commitment due later than the law allows (flagged, and chased at the limit)",
    )


@dataclass(frozen=True)
class Refusal:
    reason: RejectionReason
    detail: str
    content_fault: bool = False


def checked_subject(message: Envelope) -> str:
    """The outbox subject ``message`` goes out on, once the hub's intake accepts it there."""
    registry = active_registry()
    (subject, _), *_ = subjects.routes(message, registry)
    checked = intake.decode(subject, message.to_json(), registry)
    if isinstance(checked, intake.Refusal):
        errors = [FieldProblem(field=loc, problem=problem) for loc, problem in checked.errors]
        if not errors:
            errors = [FieldProblem(field="(message)", problem=checked.detail)]
        raise schema_violation(errors, "the message")
    return subject


def refused(refusal: Refusal) -> ProblemError:
    """The verdict as problem+json: 409 when the request's state is what stands in the way,
    422 when the message could never apply."""
    conflict = refusal.reason in CONFLICTS and not refusal.content_fault
    slug = refusal.reason.value.replace("_", "-")
    title = refusal.reason.value.replace("_", " ").capitalize()
    return ProblemError(
        409 if conflict else 422, slug, title, refusal.detail, reason=refusal.reason.value
    )


def judge(ledger: SqlLedger, message: Envelope, now: datetime) -> Refusal | None:
    """Run the lifecycle on the recorded state, as the hub will (``now`` stands for the hub's
    receive time, a moment later)."""
    return _judged(ledger, message, now)[0]


def _judged(
    ledger: SqlLedger, message: Envelope, now: datetime
) -> tuple[Refusal | None, str | None]:
    """The refusal the hub will make, if any, else what the agency should know (a commitment
    beyond the legal limit, recorded all the same)."""
    if not concerns_requests(message):
        return None, None
    state, events = apply(agency_view.request_state(ledger, message.thread), message, now)
    for event in events:
        if isinstance(event, TransitionRefused):
            return Refusal(event.reason, event.detail, event.content_fault), None
    if isinstance(message, CommitmentMade):
        return None, legal_limit.notice(state, message.data.commitment_id)
    return None, None


def refusal_of(ledger: SqlLedger, message: Envelope) -> Refusal | None:
    """The hub's refusal of ``message``, if it refused it."""
    found = agency_view.dead_letter(ledger, message.id, message.source)
    return Refusal(RejectionReason(found[0]), found[1]) if found is not None else None


async def settle(ledger: SqlLedger, message: Envelope, wait: float) -> Refusal | bool:
    """True once the hub recorded ``message``, its refusal if the hub refused it, False if
    neither happened within ``wait`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    pause = 0.02
    while True:
        if await asyncio.to_thread(agency_view.recorded, ledger, message):
            return True
        refusal = await asyncio.to_thread(refusal_of, ledger, message)
        if refusal is not None:
            return refusal
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.25)


async def deliver(
    ledger: SqlLedger,
    publisher: Publisher,
    message: Envelope,
    now: datetime,
    wait: float = SETTLE_SECONDS,
) -> Published:
    subject = checked_subject(message)

    def answer(*, duplicate: bool, recorded: bool, notice: str | None = None) -> Published:
        return Published(
            message_id=message.id,
            type=message.type,
            nats_subject=subject,
            duplicate=duplicate,
            recorded=recorded,
            notice=notice,
        )

    # A message already in the record (a receipt, whose id is fixed) is not sent again: the
    # hub would take the same id with other bytes (a later time) for a reused id.
    if await asyncio.to_thread(agency_view.recorded, ledger, message):
        return answer(duplicate=True, recorded=True)
    verdict, notice = await asyncio.to_thread(_judged, ledger, message, now)
    if verdict is not None:
        # Never published, so no dead letter keeps it: the log does (ids and the code only).
        log.info(
            "refused %s %s from %s on %s: %s",
            message.type,
            message.id,
            message.source,
            message.thread,
            verdict.reason.value,
        )
        raise refused(verdict)
    try:
        await publisher.publish(message)
    except Unavailable as exc:
        raise ProblemError(
            503,
            "nats-unavailable",
            "NATS unavailable",
            f"nothing was published: {exc}; retry",
        ) from exc
    outcome = await settle(ledger, message, wait)
    if isinstance(outcome, Refusal):
        raise refused(outcome)
    return answer(duplicate=False, recorded=outcome, notice=notice)
