"""Recording: apply each delivered message to the ledger exactly once, or keep it as a dead letter.

The hub calls ``record_batch`` with everything one fetch delivered; it runs inside one ledger
transaction, and the hub acknowledges the deliveries to JetStream only after it commits.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bus import bounds, intake, subjects
from bus.capacity import ShelterCapacity
from bus.lifecycle import Event, Refused, apply, concerns_requests
from bus.policy import Policy
from bus.ports import (
    AttendanceRecord,
    BoardSessionRecord,
    DeadLetterRecord,
    Delivery,
    EscalationRecord,
    Ledger,
    LedgerUnit,
    MessageRecord,
)
from schemas.capacity import CapacityUpdate, PlacementConfirmed, PlacementEnded
from schemas.envelope import MESSAGE_ID_PATTERN, Envelope
from schemas.messages import parse_message
from schemas.tracking import (
    ESCALATION_MESSAGES,
    BoardAttendance,
    BoardSessionScheduled,
    EscalationBody,
    FieldError,
    Rejected,
    RejectedBody,
    RejectionReason,
)

HUB_AGENCY = "fed.hub"
KEPT_BODY_BYTES = 64 * 1024  # an oversize body is kept truncated, with its true size noted


class Result(StrEnum):
    RECORDED = "recorded"
    REDELIVERED = "redelivered"  # already in the ledger: acknowledge again, change nothing
    COPY = "copy"  # another recipient's copy of a message already recorded
    DEAD_LETTER = "dead_letter"
    # A response to a request not recorded yet: after a hub crash, the request may be among
    # the deliveries JetStream redelivers only after ack_wait, behind this response. Wait.
    DEFERRED = "deferred"


@dataclass(frozen=True)
class Outcome:
    result: Result
    stream_seq: int
    message_id: str | None = None
    reason: RejectionReason | None = None
    notice: Envelope | None = None  # a ``rejected`` notice to publish after the commit
    events: tuple[Event, ...] = field(default=())
    capacity: ShelterCapacity | None = None  # a shelter's capacity changed: publish it


def record_batch(
    ledger: Ledger,
    deliveries: list[Delivery],
    now: datetime | None = None,
    policy: Policy | None = None,
) -> list[Outcome]:
    """Record ``deliveries`` in one transaction; returns one outcome per delivery, in order.

    Each is recorded at ``now`` if given, else at the moment the stream stored it. A response
    whose request is unknown is ``DEFERRED`` (nothing written) while its delivery
    ``may_wait``, and refused after that.
    """
    # Decoding is pure: do it first, so that the ledger can look up everything the batch
    # refers to (deliveries, message ids, requests) in a few queries, not several per message.
    decoded = [intake.decode(d.subject, d.data) for d in deliveries]
    messages = [m for m in decoded if not isinstance(m, intake.Refusal)]
    with ledger.unit() as unit:
        unit.expect(
            [d.stream_seq for d in deliveries],
            [m.id for m in messages],
            [m.thread for m in messages if concerns_requests(m)],
        )
        return [
            _record(unit, delivery, _moment(delivery, now), policy, message)
            for delivery, message in zip(deliveries, decoded, strict=True)
        ]


def record(
    unit: LedgerUnit, delivery: Delivery, now: datetime | None = None, policy: Policy | None = None
) -> Outcome:
    decoded = intake.decode(delivery.subject, delivery.data)
    return _record(unit, delivery, _moment(delivery, now), policy, decoded)


def record_undeliverable(
    ledger: Ledger, delivery: Delivery, detail: str, now: datetime | None = None
) -> Outcome:
    """Keep a message the hub gave up recording (its max deliveries reached) as a dead letter.

    Unless it was recorded after all (say the commit held and only the acks were lost): then
    nothing changes.
    """
    with ledger.unit() as unit:
        if unit.handled(delivery.stream_seq) is not None:
            return Outcome(Result.REDELIVERED, delivery.stream_seq)
        decoded = intake.decode(delivery.subject, delivery.data)  # total: never raises
        message_id = None if isinstance(decoded, intake.Refusal) else decoded.id
        sender = intake.sender_of(delivery.subject)
        refusal = intake.Refusal(RejectionReason.UNDELIVERABLE, detail, sender, message_id)
        return _dead_letter(unit, delivery, refusal, _moment(delivery, now))


def _moment(delivery: Delivery, now: datetime | None) -> datetime:
    at = now if now is not None else delivery.stored_at
    if at is None:
        raise ValueError(f"stream seq {delivery.stream_seq}: no recording time and no clock")
    return at


def _record(
    unit: LedgerUnit,
    delivery: Delivery,
    now: datetime,
    policy: Policy | None,
    decoded: Envelope | intake.Refusal,
) -> Outcome:
    handled = unit.handled(delivery.stream_seq)
    if handled is not None:
        notice = parse_message(handled.notice) if handled.notice else None
        return Outcome(Result.REDELIVERED, delivery.stream_seq, notice=notice)
    if isinstance(decoded, intake.Refusal):
        return _dead_letter(unit, delivery, decoded, now)
    message = decoded
    stored = unit.stored_message(message.id)
    if stored is not None:
        copies = [subject for subject, _ in subjects.routes(message)]
        if stored.nats_subject != delivery.subject and delivery.subject in copies:
            return Outcome(Result.COPY, delivery.stream_seq, message.id)
        if stored.raw_sha256 == hashlib.sha256(delivery.data).hexdigest():
            # The very same bytes again (a retry after the duplicate window): one row.
            return Outcome(Result.COPY, delivery.stream_seq, message.id)
        detail = (
            f"message id {message.id} is already in the record (stream sequence "
            f"{stored.stream_seq}) for a different message; a new message needs a new id"
        )
        refusal = _refuse(message, RejectionReason.DUPLICATE, detail)
        return _dead_letter(unit, delivery, refusal, now)
    if message.expires is not None and message.expires <= now:
        detail = f"message {message.id} expired at {message.expires.isoformat()}"
        return _dead_letter(unit, delivery, _refuse(message, RejectionReason.EXPIRED, detail), now)
    events: list[Event] = []
    capacity: ShelterCapacity | None = None
    if isinstance(message, ESCALATION_MESSAGES):
        escalation = _escalation(message, now)
        if unit.escalation_fired(escalation):
            detail = (
                f"{escalation.level} for {escalation.agency} on request "
                f"{escalation.request_id} has already fired"
            )
            refusal = _refuse(message, RejectionReason.DUPLICATE, detail)
            return _dead_letter(unit, delivery, refusal, now)
        unit.add_escalation(escalation)
    elif isinstance(message, BoardSessionScheduled):
        session = message.data
        unit.save_board_session(
            BoardSessionRecord(session.session_id, session.scheduled_at, session.venue)
        )
    elif isinstance(message, BoardAttendance):
        seen = message.data
        unit.save_attendance(AttendanceRecord(seen.session_id, seen.agency, seen.attended, now))
    elif isinstance(message, CapacityUpdate):
        capacity = ShelterCapacity.reported(message.source, message.data, now)
        unit.record_capacity(capacity, message.data.model_dump_json())
    elif concerns_requests(message):
        if isinstance(message, PlacementConfirmed):
            shortfall = _no_room(unit, message)
            if shortfall:
                refusal = _refuse(message, RejectionReason.NO_CAPACITY, shortfall)
                return _dead_letter(unit, delivery, refusal, now)
        state = unit.load_request(message.thread)
        new_state, outcome_events = apply(state, message, now, policy)
        for event in outcome_events:
            if isinstance(event, Refused):
                unknown = event.reason is RejectionReason.UNKNOWN_REQUEST
                if unknown and delivery.may_wait:
                    return Outcome(Result.DEFERRED, delivery.stream_seq, message.id)
                refusal = _refuse(message, event.reason, event.detail)
                return _dead_letter(unit, delivery, refusal, now)
            events.append(event)
        if new_state is not None:
            unit.save_request(new_state)
        if isinstance(message, PlacementConfirmed):
            capacity = unit.adjust_free_spaces(message.data.shelter, -message.data.people)
        elif isinstance(message, PlacementEnded):
            capacity = unit.adjust_free_spaces(message.source, message.data.people)
    unit.add_message(_message_record(message, delivery, now))
    return Outcome(
        Result.RECORDED, delivery.stream_seq, message.id, events=tuple(events), capacity=capacity
    )


def _no_room(unit: LedgerUnit, message: PlacementConfirmed) -> str | None:
    """Checked in stream order inside the ledger transaction: of two confirmations racing for
    a shelter's last space, the first recorded takes it and the second is refused here."""
    shelter, people = message.data.shelter, message.data.people
    current = unit.capacity(shelter)
    if current is None:
        return f"{shelter} has published no capacity"
    if current.free_spaces < people:
        return f"{shelter} has {current.free_spaces} free spaces; this placement needs {people}"
    return None


def _escalation(message: Envelope, now: datetime) -> EscalationRecord:
    body = message.data
    assert isinstance(body, EscalationBody)
    return EscalationRecord(
        request_id=body.request_id,
        agency=body.agency,
        clock=body.clock,
        commitment_id=body.commitment_id,
        level=body.level.value,
        message_id=message.id,
        to_agency=body.to_agency,
        due_at=body.due_at,
        fired_at=now,
        board_session_id=body.board_session_id,
        authority_to_summon=body.authority_to_summon,
    )


def _refuse(message: Envelope, reason: RejectionReason, detail: str) -> intake.Refusal:
    return intake.Refusal(reason, detail, message.source, message.id)


def _message_record(message: Envelope, delivery: Delivery, now: datetime) -> MessageRecord:
    return MessageRecord(
        message_id=message.id,
        type=message.type,
        family=message.family.value,
        source=message.source,
        thread_id=message.thread,
        causation_id=message.causation_id,
        case_ref=message.subject,
        nats_subject=delivery.subject,
        stream_seq=delivery.stream_seq,
        sent_at=message.time,
        recorded_at=now,
        body=delivery.data,
    )


def _dead_letter(
    unit: LedgerUnit, delivery: Delivery, refusal: intake.Refusal, now: datetime
) -> Outcome:
    notice = _notice(delivery, refusal, now)
    unit.add_dead_letter(
        DeadLetterRecord(
            stream_seq=delivery.stream_seq,
            nats_subject=_kept_subject(delivery.subject),
            sender=refusal.sender,
            reason=refusal.reason.value,
            detail=bounds.printable(refusal.detail),
            errors=refusal.errors,
            message_id=refusal.message_id,
            received_at=now,
            body=delivery.data[:KEPT_BODY_BYTES],
            notice=notice.to_json() if notice else None,
        )
    )
    return Outcome(
        Result.DEAD_LETTER, delivery.stream_seq, refusal.message_id, refusal.reason, notice
    )


def _notice(delivery: Delivery, refusal: intake.Refusal, now: datetime) -> Rejected | None:
    """The ``rejected`` notice for the sender, with an id fixed by the input it is about.

    A redelivered bad message therefore yields the same notice id, and JetStream's duplicate
    window (and the ledger's unique id) keep the sender from hearing about it twice.
    """
    if refusal.sender is None or refusal.sender == HUB_AGENCY:
        return None  # nobody to tell, and the hub never answers its own notices
    # surrogateescape: a subject that was not UTF-8 hashes as the bytes it arrived as
    seed = f"{delivery.subject}\0{delivery.stream_seq}\0".encode("utf-8", "surrogateescape")
    digest = hashlib.sha256(seed + delivery.data).hexdigest()
    valid_id = refusal.message_id if _is_message_id(refusal.message_id) else None
    return Rejected(
        id=f"rej-{digest[:32]}",
        source=HUB_AGENCY,
        time=now,
        recipients=(refusal.sender,),
        causation_id=valid_id,
        data=RejectedBody(
            reason=refusal.reason,
            detail=_fit(refusal.detail, 4000) or refusal.reason.value,
            errors=tuple(
                FieldError(location=_fit(loc, 200), problem=_fit(problem, 500))
                for loc, problem in refusal.errors
            ),
            rejected_id=refusal.message_id,
            rejected_subject=_kept_subject(delivery.subject),
            stream_sequence=delivery.stream_seq,
        ),
    )


def _kept_subject(subject: str) -> str:
    """The subject as the ledger and the notice keep it: printable, cut to the column's length
    (a longer one was refused for its length, which the detail gives)."""
    return bounds.printable(subject)[: bounds.MAX_SUBJECT_LENGTH]


def _fit(text: str, limit: int) -> str:
    return bounds.printable(text).strip()[:limit]


def _is_message_id(value: str | None) -> bool:
    return value is not None and re.fullmatch(MESSAGE_ID_PATTERN, value) is not None
