"""Subject permissions per agency: each may read only its own inbox and write only in its own
name. Pure; adapters.natsserver.credentials turns these into the nats-server configuration."""

from __future__ import annotations

from dataclasses import dataclass

from bus.domain import subjects
from bus.domain.federal import BOARD, BRIDGE, HUB, MECHANISM
from bus.domain.streams import (
    CAPACITY_BUCKET,
    REPLAY_CONSUMER,
    StreamSpec,
    agency_consumer,
    dead_letter_consumer,
    dead_letter_stream,
    hub_consumer,
)
from schemas.registry import Agency

__all__ = ["BRIDGE", "HUB", "Permissions", "for_agency"]


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()  # carved out of ``publish``; the server denies first


def _consumer(stream: str, durable: str) -> tuple[str, ...]:
    """Fetch from, acknowledge on, and look up one's own durable consumer; nothing else."""
    return (
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    )


def _held_by_hub() -> tuple[str, ...]:
    """Inbox subjects only the hub may write: a shelter's copy of its placement confirmation
    carries the people's details, which the hub lets out once it has recorded the placement."""
    to = f"{subjects.PREFIX}.{subjects.Direction.TO.value}"
    return tuple(f"{to}.*.*.{kind}" for kind in sorted(subjects.RELEASED_BY_HUB))


def for_agency(agency: Agency, stream: StreamSpec | None = None) -> Permissions:
    spec = stream or StreamSpec()
    inbox = (f"{subjects.inbox_prefix(agency.id)}.>",)
    if agency.id == HUB:
        kv = f"KV_{CAPACITY_BUCKET}"
        dlq = dead_letter_stream(spec)
        return Permissions(
            publish=(
                subjects.ALL,  # records everything, sends notices and escalations
                "$JS.API.INFO",
                f"$JS.API.STREAM.INFO.{spec.name}",
                f"$JS.API.STREAM.CREATE.{spec.name}",
                f"$JS.API.STREAM.UPDATE.{spec.name}",
                f"$JS.API.CONSUMER.CREATE.{spec.name}.>",
                f"$JS.API.CONSUMER.DURABLE.CREATE.{spec.name}.>",
                f"$JS.API.CONSUMER.INFO.{spec.name}.>",
                *_consumer(spec.name, hub_consumer().durable),
                *_consumer(spec.name, REPLAY_CONSUMER),
                f"$JS.API.CONSUMER.DELETE.{spec.name}.{REPLAY_CONSUMER}",
                f"$JS.API.STREAM.MSG.GET.{spec.name}",  # the message a dead letter is about
                # ``mechbus backup`` and ``restore``: the stream's own snapshot, chunk by chunk
                f"$JS.API.STREAM.SNAPSHOT.{spec.name}",
                f"$JS.SNAPSHOT.ACK.{spec.name}.>",
                f"$JS.API.STREAM.RESTORE.{spec.name}",
                f"$JS.SNAPSHOT.RESTORE.{spec.name}.>",
                f"$JS.API.STREAM.INFO.{dlq.name}",
                f"$JS.API.STREAM.CREATE.{dlq.name}",
                f"$JS.API.STREAM.UPDATE.{dlq.name}",
                f"$JS.API.CONSUMER.CREATE.{dlq.name}.>",
                f"$JS.API.CONSUMER.DURABLE.CREATE.{dlq.name}.>",
                *_consumer(dlq.name, dead_letter_consumer(spec).durable),
                f"$JS.API.STREAM.INFO.{kv}",
                f"$JS.API.STREAM.CREATE.{kv}",
                f"$JS.API.STREAM.UPDATE.{kv}",
                f"$KV.{CAPACITY_BUCKET}.>",
            ),
            subscribe=inbox,
        )
    if agency.id == BRIDGE:
        # The HTTP bridge (adapters.bridge) speaks for agencies that authenticated to it with
        # their own token, so it must publish on any agency's outbox; no other user may
        # (the hub's mech.v1.> would also let it write requests and notices, far more than a
        # web-facing process should hold). It gets exactly that, plus its own reply inbox for
        # the PubAcks: no inbox, no consumer, no stream API.
        return Permissions(
            publish=(f"{subjects.PREFIX}.{subjects.Direction.FROM.value}.>",), subscribe=inbox
        )
    own = (subjects.outbox(agency.id), *_consumer(spec.name, agency_consumer(agency.id).durable))
    if agency.id in (MECHANISM, BOARD):
        kv = f"KV_{CAPACITY_BUCKET}"
        federal = (
            f"{subjects.PREFIX}.{subjects.Direction.TO.value}.>",  # requests to any agency
            f"$JS.API.STREAM.INFO.{kv}",
            f"$JS.API.DIRECT.GET.{kv}.>",
            f"$JS.API.STREAM.MSG.GET.{kv}",
        )
        return Permissions(publish=own + federal, subscribe=inbox, publish_deny=_held_by_hub())
    # Everyone else, the Mechanism's own units included (reception, risk evaluation): they
    # report on their outbox what they did and read their inbox (the ladder's reminders);
    # requests to agencies go out from the Executive Coordination alone.
    return Permissions(publish=own, subscribe=inbox)
