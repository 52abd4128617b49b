"""Recording: apply each delivered message to the ledger exactly once, or keep it as a dead letter.

The hub calls ``record_batch`` with everything one fetch delivered; it runs inside one ledger
transaction, and the hub acknowledges the deliveries to JetStream only after it commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bus.domain import aggressors, bounds, case_records, iachr, intake, subjects
from bus.domain.capacity import ShelterCapacity
from bus.domain.federal_clocks import concerns_obligations
from bus.domain.lifecycle import Event, TransitionRefused, apply, concerns_requests
from bus.domain.msgids import receipt_id
from bus.domain.placement import Release, releases, unplaceable
from bus.domain.ports import (
    AttendanceRecord,
    BoardSessionRecord,
    CopyRecord,
    DeadLetterRecord,
    Delivery,
    EscalationRecord,
    Ledger,
    LedgerUnit,
    MessageRecord,
    StoredMessage,
)
from bus.domain.redaction import content_digest
from bus.domain.rejection import kept_subject, rejected_notice
from bus.domain.rules import Rules
from schemas.capacity import CapacityUpdate, PlacementConfirmed, PlacementEnded
from schemas.envelope import Envelope
from schemas.iachr import IachrMeasureRegistered
from schemas.messages import parse_message
from schemas.registry import AgencyRegistry
from schemas.requests import BoardSummons
from schemas.responses import DeliveryReceipt
from schemas.tracking import (
    ESCALATION_MESSAGES,
    BoardAttendance,
    BoardConsent,
    BoardSessionScheduled,
    EscalationBody,
    PresumedAggressor,
    RejectionReason,
)

KEPT_BODY_BYTES = 64 * 1024  # an oversize body is kept truncated, with its true size noted


class Result(StrEnum):
    RECORDED = "recorded"
    REDELIVERED = "redelivered"  # already in the ledger: acknowledge again, change nothing
    COPY = "copy"  # a message already recorded, arriving again (see CopyKind)
    DEAD_LETTER = "dead_letter"
    # A response to a request not recorded yet: after a hub crash, the request may be among
    # the deliveries JetStream redelivers only after ack_wait, behind this response. Wait.
    DEFERRED = "deferred"


class CopyKind(StrEnum):
    """Why a stream message that carries a message already recorded is not a duplicate.

    A message is its sender's (ids are scoped by sender): only the same sender can send "the
    same message again", and only in these three ways. Anything else under a recorded id is
    refused ``duplicate``.
    """

    # another recipient's copy of a federal message: one of its own subjects, and the same
    # content apart from the personal details that recipient may or may not receive
    COPY = "copy"
    RESENT = "resent"  # the same bytes on the same subject (a retry after a lost PubAck)
    # the same delivery receipt for the same request again (the request was redelivered):
    # its fixed id names the request and the agency, and the first receipt's time counts
    RECEIPT_AGAIN = "receipt_again"


@dataclass(frozen=True)
class Outcome:
    result: Result
    stream_seq: int
    message_id: str | None = None
    reason: RejectionReason | None = None
    notice: Envelope | None = None  # a ``rejected`` notice to publish after the commit
    events: tuple[Event, ...] = field(default=())
    capacity: ShelterCapacity | None = None  # a shelter's capacity changed: publish it
    releases: tuple[Release, ...] = ()  # what a recorded placement lets out, after the commit
    # What the hub's logs and metrics say of it (never its body): the message's type and its
    # sender, where they are known.
    type: str | None = None
    sender: str | None = None


def record_batch(
    ledger: Ledger,
    deliveries: list[Delivery],
    now: datetime | None,
    rules: Rules,
) -> list[Outcome]:
    """Record ``deliveries`` in one transaction; returns one outcome per delivery, in order.

    ``rules`` are the registry and the policy in force (the deadlines a request gets).

    Each is recorded at ``now`` if given, else at the moment the stream stored it. A response
    whose request is unknown is ``DEFERRED`` (nothing written) while its delivery
    ``may_wait``, and refused after that.
    """
    # Decoding is pure: do it first, so that the ledger can look up everything the batch
    # refers to (deliveries, message ids, requests) in a few queries, not several per message.
    decoded = [intake.decode(d.subject, d.data, rules.registry) for d in deliveries]
    messages = [m for m in decoded if not isinstance(m, intake.Refusal)]
    with ledger.unit() as unit:
        unit.expect(
            [d.stream_seq for d in deliveries],
            [(m.source, m.id) for m in messages],
            [m.thread for m in messages if concerns_requests(m)],
        )
        unit.expect_cases(
            m.subject
            for m in messages
            if m.subject and (concerns_obligations(m) or aggressors.checked(m, rules.registry))
        )
        return [
            _record(unit, delivery, _moment(delivery, now), rules, message)
            for delivery, message in zip(deliveries, decoded, strict=True)
        ]


def record(unit: LedgerUnit, delivery: Delivery, now: datetime | None, rules: Rules) -> Outcome:
    decoded = intake.decode(delivery.subject, delivery.data, rules.registry)
    return _record(unit, delivery, _moment(delivery, now), rules, decoded)


def record_undeliverable(
    ledger: Ledger,
    delivery: Delivery,
    detail: str,
    registry: AgencyRegistry,
    now: datetime | None = None,
) -> Outcome:
    """Keep a message the hub gave up recording (its max deliveries reached) as a dead letter.

    Unless it was recorded after all (say the commit held and only the acks were lost): then
    nothing changes.
    """
    with ledger.unit() as unit:
        if unit.handled(delivery.stream_seq) is not None:
            return Outcome(Result.REDELIVERED, delivery.stream_seq)
        decoded = intake.decode(delivery.subject, delivery.data, registry)  # total: never raises
        message_id = None if isinstance(decoded, intake.Refusal) else decoded.id
        sender = intake.sender_of(delivery.subject, registry)
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
    rules: Rules,
    decoded: Envelope | intake.Refusal,
) -> Outcome:
    handled = unit.handled(delivery.stream_seq)
    if handled is not None:
        notice = parse_message(handled.notice) if handled.notice else None
        again = _released_again(unit, delivery, decoded, rules.registry)
        return Outcome(Result.REDELIVERED, delivery.stream_seq, notice=notice, releases=again)
    if isinstance(decoded, intake.Refusal):
        return _dead_letter(unit, delivery, decoded, now)
    message = decoded
    stored = unit.stored_message(message.source, message.id)
    if stored is not None:
        kind = _copy_kind(stored, message, delivery, rules.registry)
        if kind is not None:
            unit.add_copy(
                CopyRecord(
                    delivery.stream_seq, message.source, message.id, delivery.subject, kind, now
                )
            )
            return Outcome(
                Result.COPY,
                delivery.stream_seq,
                message.id,
                type=message.type,
                sender=message.source,
            )
        detail = (
            f"message id {message.id} is already in the record from {message.source} (stream "
            f"sequence {stored.stream_seq}) for a different message; a new message needs a "
            "new id"
        )
        refusal = intake.Refusal.of(message, RejectionReason.DUPLICATE, detail)
        return _dead_letter(unit, delivery, refusal, now)
    if message.expires is not None and message.expires <= now:
        detail = f"message {message.id} expired at {message.expires.isoformat()}"
        return _dead_letter(
            unit, delivery, intake.Refusal.of(message, RejectionReason.EXPIRED, detail), now
        )
    barred = case_records.to_presumed_aggressor(unit, message, rules.registry)
    if barred is not None:
        return _dead_letter(unit, delivery, barred, now)
    events: list[Event] = []
    capacity: ShelterCapacity | None = None
    released: tuple[Release, ...] = ()
    if isinstance(message, PresumedAggressor):
        refused = case_records.aggressor_refused(unit, message, rules.registry)
        if refused is not None:
            return _dead_letter(unit, delivery, refused, now)
        unit.record_aggressor(aggressors.change_of(message, now))
    elif isinstance(message, ESCALATION_MESSAGES):
        escalation = _escalation(message, now)
        if unit.escalation_fired(escalation):
            detail = (
                f"{escalation.level} for {escalation.agency} on request "
                f"{escalation.request_id} has already fired"
            )
            refusal = intake.Refusal.of(message, RejectionReason.DUPLICATE, detail)
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
    elif isinstance(message, IachrMeasureRegistered):
        problem = iachr.refusal(message.data, now)
        if problem is not None:
            refusal = intake.Refusal.of(message, RejectionReason.INVALID_DATES, problem)
            return _dead_letter(unit, delivery, refusal, now)
        unit.save_iachr_measure(iachr.MeasureDates.of(message.data), message.id, now)
    elif isinstance(message, BoardConsent):
        unit.save_consent(case_records.consent_record(message, now))
    elif isinstance(message, CapacityUpdate):
        capacity = ShelterCapacity.reported(message.source, message.data, now)
        unit.record_capacity(capacity, message.data.model_dump_json())
    elif concerns_requests(message):
        if isinstance(message, PlacementConfirmed):
            refused = unplaceable(unit, delivery, message, rules.registry)
            if refused is not None:
                return _dead_letter(unit, delivery, refused, now)
        if isinstance(message, BoardSummons):
            unconsented = case_records.unconsented(unit, message, rules.registry)
            if unconsented is not None:
                return _dead_letter(unit, delivery, unconsented, now)
        state = unit.load_request(message.thread)
        new_state, outcome_events = apply(state, message, now, rules)
        for event in outcome_events:
            if isinstance(event, TransitionRefused):
                unknown = event.reason is RejectionReason.UNKNOWN_REQUEST
                if unknown and delivery.may_wait:
                    return Outcome(Result.DEFERRED, delivery.stream_seq, message.id)
                refusal = intake.Refusal.of(message, event.reason, event.detail)
                return _dead_letter(unit, delivery, refusal, now)
            events.append(event)
        if new_state is not None:
            unit.save_request(new_state)
        if isinstance(message, PlacementConfirmed):
            capacity = unit.adjust_free_spaces(message.data.shelter, -message.data.people)
            assert new_state is not None
            flagged = case_records.flagged(unit, message)
            released = releases(message, new_state, rules.registry, flagged)
        elif isinstance(message, PlacementEnded):
            capacity = unit.adjust_free_spaces(message.source, message.data.people)
    if rules.policy is not None and concerns_obligations(message):
        case_records.record_obligations(unit, message, now, rules.policy)
    unit.add_message(_message_record(message, delivery, now, rules.registry))
    return Outcome(
        Result.RECORDED,
        delivery.stream_seq,
        message.id,
        events=tuple(events),
        capacity=capacity,
        releases=released,
        type=message.type,
        sender=message.source,
    )


def _copy_kind(
    stored: StoredMessage, message: Envelope, delivery: Delivery, registry: AgencyRegistry
) -> CopyKind | None:
    """How a message already recorded from this sender arrives again, or None: a different
    message under a used id."""
    if delivery.subject == stored.nats_subject:
        if stored.raw_sha256 == hashlib.sha256(delivery.data).hexdigest():
            return CopyKind.RESENT
        if isinstance(message, DeliveryReceipt) and message.id == receipt_id(
            message.thread, message.source
        ):
            return CopyKind.RECEIPT_AGAIN
        return None
    own_subjects = [subject for subject, _ in subjects.routes(message, registry)]
    if delivery.subject in own_subjects and stored.content_sha256 == content_digest(message):
        return CopyKind.COPY
    return None


def _released_again(
    unit: LedgerUnit,
    delivery: Delivery,
    decoded: Envelope | intake.Refusal,
    registry: AgencyRegistry,
) -> tuple[Release, ...]:
    """A recorded confirmation redelivered: the hub may have crashed after the commit and
    before publishing what it releases, so derive the same messages again (fixed ids)."""
    if not isinstance(decoded, PlacementConfirmed):
        return ()
    stored = unit.stored_message(decoded.source, decoded.id)
    if stored is None or stored.stream_seq != delivery.stream_seq:
        return ()  # refused, or a copy: nothing of it was released
    state = unit.load_request(decoded.thread)
    return releases(decoded, state, registry, case_records.flagged(unit, decoded)) if state else ()


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


def _message_record(
    message: Envelope, delivery: Delivery, now: datetime, registry: AgencyRegistry
) -> MessageRecord:
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
        # Only a federal message with recipients has copies on other subjects to compare.
        content_sha256=content_digest(message) if _has_copies(message, registry) else "",
    )


def _has_copies(message: Envelope, registry: AgencyRegistry) -> bool:
    return bool(message.recipients) and registry[message.source].is_federal


def _dead_letter(
    unit: LedgerUnit, delivery: Delivery, refusal: intake.Refusal, now: datetime
) -> Outcome:
    notice = rejected_notice(delivery, refusal, now)
    unit.add_dead_letter(
        DeadLetterRecord(
            stream_seq=delivery.stream_seq,
            nats_subject=kept_subject(delivery.subject),
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
        Result.DEAD_LETTER,
        delivery.stream_seq,
        refusal.message_id,
        refusal.reason,
        notice,
        type=refusal.type,
        sender=refusal.sender,
    )
