"""The bodies every benchmark row carries: serialized patrol requests built with ``schemas``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from bus.domain import subjects
from schemas.envelope import new_message_id
from schemas.registry import active_registry
from schemas.requests import ProtectionMeasureRequest

STREAM = "MECHBUS"


def patrol_request(at: datetime | None = None) -> ProtectionMeasureRequest:
    """The same realistic request the tests use (tests.builders.patrol_request), dated now:
    bench/ must not import tests/, which is not part of the installed package."""
    return ProtectionMeasureRequest(
        source="fed.mechanism",
        time=at or datetime.now(UTC),
        subject="MPDDHP-2026-0412",
        recipients=("gro.government",),
        urgency="urgent",
        data={
            "measures": ["perimeter_patrol"],
            "beneficiary_role": "journalist",
            "state": "GRO",
            "municipality": "Chilpancingo de los Bravo",
            "instructions": "Rondines perimetrales cada 4 horas durante 30 días.",
        },
    )


@dataclass(frozen=True)
class Body:
    """One message as every row publishes it: mechbus publishes ``envelope`` itself
    (bus.runtime.jetstream.publish), the baselines publish ``payload`` with the same header."""

    key: str  # the envelope id: how a consumer names the message back to the tracker
    subject: str
    msg_id: str  # Nats-Msg-Id, exactly as bus.runtime.jetstream.publish sets it
    payload: bytes
    envelope: ProtectionMeasureRequest


def make(count: int) -> list[Body]:
    """``count`` distinct requests (distinct ids: the ledger and the dedup window need them)."""
    now = datetime.now(UTC)
    bodies = []
    for _ in range(count):
        envelope = patrol_request(now)
        [(subject, msg_id)] = subjects.routes(envelope, active_registry())
        bodies.append(Body(envelope.id, subject, msg_id, envelope.to_json(), envelope))
    return bodies


def stream_of(count: int) -> Iterator[tuple[str, str, bytes]]:
    """``count`` (subject, Nats-Msg-Id, payload) made lazily from one serialized template
    with a fresh id each: a million envelopes would not fit the feeder's memory or time."""
    template = make(1)[0]
    for _ in range(count):
        new = new_message_id()
        yield (
            template.subject,
            template.msg_id.replace(template.key, new),
            template.payload.replace(template.key.encode(), new.encode()),
        )
