"""JetStream stream and consumer definitions, as data (applied by bus.jetstream)."""

from __future__ import annotations

from dataclasses import dataclass

from bus import subjects

CAPACITY_BUCKET = "shelter_capacity"
"""JetStream key-value bucket: the latest capacity of each shelter, keyed by agency id."""

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


def hub_consumer() -> ConsumerSpec:
    return ConsumerSpec(durable="hub", filter_subjects=(subjects.ALL,))


def agency_consumer(agency: str) -> ConsumerSpec:
    """The agency's own durable consumer: only what is addressed to it."""
    return ConsumerSpec(
        durable="agency-" + agency.replace(".", "-"),
        filter_subjects=(subjects.inbox(agency),),
        max_ack_pending=256,
    )
