"""JetStream stream and consumer definitions, as data (applied by bus.runtime.jetstream)."""

from __future__ import annotations

from dataclasses import dataclass

from bus.domain import subjects

CAPACITY_BUCKET = "shelter_capacity"
"""JetStream key-value bucket: the latest capacity of each shelter, keyed by agency id."""

REPLAY_CONSUMER = "replay"
"""The hub's short-lived consumer that reads the whole stream for ``mechbus replay``."""

MAX_MESSAGE_BYTES = 64 * 1024
"""Largest body the hub accepts; bigger ones are kept as dead letters (``oversize``)."""


@dataclass(frozen=True)
class StreamSpec:
    name: str = "MECHBUS"
    subjects: tuple[str, ...] = (subjects.ALL,)
    duplicate_window_seconds: float = 600.0  # covers publisher retries and outbox relays
    # The server still accepts bodies up to 1 MiB so that an oversize message reaches the
    # hub and is kept with its reason instead of bouncing at the publisher only.
    max_msg_size: int = 1024 * 1024
    replicas: int = 1
    max_age_seconds: float = 0.0  # 0: keep forever; the stream can rebuild the ledger


@dataclass(frozen=True)
class ConsumerSpec:
    durable: str
    filter_subjects: tuple[str, ...]
    ack_wait_seconds: float = 30.0
    max_ack_pending: int = 4096
    # No server-side BackOff: it would replace ack_wait with its first step and redeliver
    # messages still queued behind a busy batch. The hub naks with a growing delay instead.
    max_deliver: int = -1


HUB_DURABLE = "hub"
HUB_MAX_DELIVER = 20
"""Deliveries before the server gives up on a message the hub keeps failing to record (with
the hub's growing delays, about eight minutes) and announces it, for the dead-letter stream.
A ledger that is down does not count: the hub holds its batch and waits instead."""


def hub_consumer(max_deliver: int = HUB_MAX_DELIVER) -> ConsumerSpec:
    return ConsumerSpec(
        durable=HUB_DURABLE, filter_subjects=(subjects.ALL,), max_deliver=max_deliver
    )


def max_deliveries_subject(stream: str, durable: str) -> str:
    """The server's advisory when ``durable`` reaches its max deliveries for a message."""
    return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{durable}"


def dead_letter_stream(stream: StreamSpec) -> StreamSpec:
    """Keeps the advisories for messages the hub gave up on, so none vanishes unrecorded."""
    return StreamSpec(
        name=f"{stream.name}_DLQ",
        subjects=(max_deliveries_subject(stream.name, HUB_DURABLE),),
        duplicate_window_seconds=120.0,
        max_msg_size=64 * 1024,
        replicas=stream.replicas,
    )


def dead_letter_consumer(stream: StreamSpec) -> ConsumerSpec:
    """The hub's consumer of the dead-letter stream."""
    spec = dead_letter_stream(stream)
    return ConsumerSpec(durable="hub-dlq", filter_subjects=spec.subjects, max_ack_pending=64)


def agency_consumer(agency: str) -> ConsumerSpec:
    """The agency's own durable consumer: only what is addressed to it."""
    return ConsumerSpec(
        durable="agency-" + agency.replace(".", "-"),
        filter_subjects=(subjects.inbox(agency),),
        max_ack_pending=256,
    )
