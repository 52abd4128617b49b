"""Recording into the SQL ledger (SQLite and PostgreSQL): exactly once, bad input kept."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from adapters.ledger.tables import DeadLetterRow, MessageRow, RecipientRow
from bus.domain import subjects
from bus.domain.lifecycle import RecipientStatus
from bus.domain.ports import Delivery
from bus.domain.recording import Result, record_batch
from schemas.messages import parse_message
from schemas.tracking import Rejected, RejectionReason
from tests import builders as b
from tests.ledger_reads import recipient_status

NOW = b.T0 + timedelta(minutes=1)


class Stream:
    """Hands out stream sequence numbers as JetStream would."""

    def __init__(self) -> None:
        self.seq = 0

    def deliver(self, message: object, subject: str | None = None) -> Delivery:
        self.seq += 1
        data = message.to_json() if hasattr(message, "to_json") else message
        if subject is None:
            subject = subjects.routes(message)[0][0]  # type: ignore[arg-type]
        assert isinstance(data, bytes)
        return Delivery(subject, data, self.seq)


def test_request_receipt_acknowledgement(ledger: object) -> None:
    stream = Stream()
    request = b.patrol_request()
    batch = [
        stream.deliver(request),
        stream.deliver(b.receipt(request.id)),
        stream.deliver(b.acknowledgement(request.id)),
    ]
    outcomes = record_batch(ledger, batch, NOW)  # type: ignore[arg-type]
    assert [o.result for o in outcomes] == [Result.RECORDED] * 3
    assert recipient_status(ledger, request.id, "gro.government") == RecipientStatus.ACKNOWLEDGED
    with ledger.session() as s:  # type: ignore[attr-defined]
        row = s.exec(select(RecipientRow)).one()
        assert row.acknowledged_at == NOW and row.acknowledged_at.tzinfo is not None
        assert row.acknowledged_by == "Subsecretaría de Derechos Humanos"
    assert ledger.count(MessageRow) == 3  # type: ignore[attr-defined]


def test_redelivery_and_duplicates_make_one_row(ledger: object) -> None:
    stream = Stream()
    request = b.patrol_request()
    first = stream.deliver(request)
    record_batch(ledger, [first], NOW)  # type: ignore[arg-type]
    # JetStream redelivers the same stream sequence (the hub died before acking).
    [again] = record_batch(ledger, [first], NOW)  # type: ignore[arg-type]
    assert again.result is Result.REDELIVERED and again.notice is None
    # The same bytes published again after the duplicate window: one row, no complaint.
    [retry] = record_batch(ledger, [stream.deliver(request)], NOW)  # type: ignore[arg-type]
    assert retry.result is Result.COPY and retry.notice is None
    # Another message under the same id: refused, kept, and the sender is told.
    reused = b.patrol_request(id=request.id, subject="MPDDHP-2026-0999")
    [dup] = record_batch(ledger, [stream.deliver(reused)], NOW)  # type: ignore[arg-type]
    assert dup.result is Result.DEAD_LETTER and dup.reason is RejectionReason.DUPLICATE
    assert isinstance(dup.notice, Rejected) and dup.notice.recipients == ("fed.mechanism",)
    assert ledger.count(MessageRow) == 1  # type: ignore[attr-defined]
    assert ledger.count(DeadLetterRow) == 1  # type: ignore[attr-defined]


def test_fan_out_copies_are_one_message(ledger: object) -> None:
    stream = Stream()
    request = b.patrol_request(recipients=("gro.government", "gro.prosecutor"))
    copies = [stream.deliver(request, subject) for subject, _ in subjects.routes(request)]
    outcomes = record_batch(ledger, copies, NOW)  # type: ignore[arg-type]
    assert [o.result for o in outcomes] == [Result.RECORDED, Result.COPY]
    assert ledger.count(MessageRow) == 1  # type: ignore[attr-defined]
    assert ledger.count(RecipientRow) == 2  # type: ignore[attr-defined]


def test_bad_input_is_kept_with_a_notice(ledger: object) -> None:
    stream = Stream()
    outbox = "mech.v1.from.gro.government.acknowledgement"
    spoof = b.acknowledgement("01M8KHEY07QWTZKE0VW6WNXK55", by="ver.government")
    batch = [
        stream.deliver(b"{not json", outbox),
        stream.deliver(b'{"type": "mech.response.acknowledgement.v1"}', outbox),
        stream.deliver(spoof.to_json(), outbox),
        stream.deliver(b.acknowledgement("01M8KHEY07QWTZKE0VW6WNXK55")),
        stream.deliver(b"x" * 70_000, outbox),
    ]
    outcomes = record_batch(ledger, batch, NOW)  # type: ignore[arg-type]
    reasons = [o.reason for o in outcomes]
    assert reasons == [
        RejectionReason.MALFORMED,
        RejectionReason.SCHEMA,
        RejectionReason.SPOOFED_SOURCE,
        RejectionReason.UNKNOWN_REQUEST,
        RejectionReason.OVERSIZE,
    ]
    for outcome in outcomes:
        assert isinstance(outcome.notice, Rejected)
        assert outcome.notice.recipients == ("gro.government",)
    assert ledger.count(DeadLetterRow) == 5  # type: ignore[attr-defined]
    assert ledger.count(MessageRow) == 0  # type: ignore[attr-defined]
    with ledger.session() as s:  # type: ignore[attr-defined]
        kept = s.exec(select(DeadLetterRow).where(DeadLetterRow.reason == "schema")).one()
        assert "data: Field required" in kept.detail
        assert ["source", "Field required"] in json.loads(kept.errors_json)
        # the notice is kept too, and a redelivery re-sends the very same notice
        assert parse_message(kept.notice).data.reason is RejectionReason.SCHEMA  # type: ignore[arg-type]
    [again] = record_batch(ledger, [batch[1]], NOW)  # type: ignore[arg-type]
    assert again.result is Result.REDELIVERED and again.notice == outcomes[1].notice


def test_illegal_transition_and_expiry_are_kept(ledger: object) -> None:
    stream = Stream()
    request = b.patrol_request()
    expired = b.patrol_request(expires=b.T0 + timedelta(seconds=30))
    outcomes = record_batch(  # type: ignore[arg-type]
        ledger,
        [
            stream.deliver(request),
            stream.deliver(b.acceptance(request.id)),
            stream.deliver(b.acknowledgement(request.id, by="gro.prosecutor")),
            stream.deliver(expired),
        ],
        NOW,
    )
    assert [o.reason for o in outcomes[1:]] == [
        RejectionReason.ILLEGAL_TRANSITION,
        RejectionReason.NOT_ADDRESSED,
        RejectionReason.EXPIRED,
    ]
    assert outcomes[2].notice is not None and outcomes[2].notice.recipients == ("gro.prosecutor",)
    assert recipient_status(ledger, request.id, "gro.government") == RecipientStatus.SENT


def test_failed_batch_leaves_nothing(ledger: object) -> None:
    stream = Stream()
    request = b.patrol_request()
    good = stream.deliver(request)

    class Boom(Exception):
        pass

    try:
        with ledger.unit() as unit:  # type: ignore[attr-defined]
            from bus.domain.recording import record

            record(unit, good, NOW)
            raise Boom
    except Boom:
        pass
    assert ledger.count(MessageRow) == 0  # type: ignore[attr-defined]
    [outcome] = record_batch(ledger, [good], NOW)  # type: ignore[arg-type]
    assert outcome.result is Result.RECORDED


def test_a_response_before_its_request_waits_then_is_refused(ledger: object) -> None:
    """After a hub crash JetStream may redeliver a request behind its own acknowledgement."""
    stream = Stream()
    request = b.patrol_request()
    early = stream.deliver(b.acknowledgement(request.id))
    young = Delivery(early.subject, early.data, early.stream_seq, may_wait=True)
    [first] = record_batch(ledger, [young], NOW)  # type: ignore[arg-type]
    assert first.result is Result.DEFERRED and ledger.count(DeadLetterRow) == 0  # type: ignore[attr-defined]
    record_batch(ledger, [stream.deliver(request)], NOW)  # type: ignore[arg-type]
    [second] = record_batch(ledger, [young], NOW)  # type: ignore[arg-type]
    assert second.result is Result.RECORDED
    assert recipient_status(ledger, request.id, "gro.government") == RecipientStatus.ACKNOWLEDGED
    orphan = stream.deliver(b.acknowledgement("01M8KHEY07QWTZKE0VW6WNXK55"))  # too old to wait
    [third] = record_batch(ledger, [orphan], NOW)  # type: ignore[arg-type]
    assert third.reason is RejectionReason.UNKNOWN_REQUEST
