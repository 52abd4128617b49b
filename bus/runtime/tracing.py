"""Tracing the bus with the OpenTelemetry API: a span around each send, one for each message
the hub records, and the W3C trace context carried between them in the NATS headers.

Off until a process turns it on (``use``, from adapters.observability.tracing): then no span is
made and no header added. OpenTelemetry is imported only once it is on, so the agency SDK,
which publishes through this package, runs without it installed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from bus.domain.ports import Delivery
    from bus.domain.recording import Outcome

_tracer: Tracer | None = None


def use(tracer: Tracer | None) -> None:
    """Trace with ``tracer`` from now on; None: stop tracing."""
    global _tracer
    _tracer = tracer


def now() -> int:
    """A span's clock: nanoseconds since the epoch."""
    return time.time_ns()


def context_headers() -> dict[str, str]:
    """The current span's W3C trace context (``traceparent``, ``tracestate``) as NATS headers;
    none when tracing is off or no span is current."""
    if _tracer is None:
        return {}
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier


@contextlib.contextmanager
def sending(message_type: str, message_id: str) -> Iterator[None]:
    """A span ``mechbus.send <type>`` around a send: what is published inside it carries it."""
    if _tracer is None:
        yield
        return
    from opentelemetry.trace import SpanKind

    attributes = {
        "messaging.system": "nats",
        "messaging.operation.type": "send",
        "messaging.message.id": message_id,
        "mechbus.message.type": message_type,
    }
    with _tracer.start_as_current_span(
        f"mechbus.send {message_type}", kind=SpanKind.PRODUCER, attributes=attributes
    ):
        yield


def recorded(deliveries: Sequence[Delivery], outcomes: Sequence[Outcome], started: int) -> None:
    """One span ``mechbus.record <type>`` for each delivery the hub recorded (or refused),
    from ``started`` to now, child of the trace context its headers carry. Ids, type, sender
    and stream sequence only: never a body."""
    if _tracer is None:
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()
    for delivery, outcome in zip(deliveries, outcomes, strict=True):
        parent = propagator.extract(dict(delivery.headers or {}))
        span = _tracer.start_span(
            f"mechbus.record {outcome.type or 'unknown'}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=_attributes(delivery, outcome),
            start_time=started,
        )
        span.end()


def _attributes(delivery: Delivery, outcome: Outcome) -> Mapping[str, str | int]:
    attributes: dict[str, str | int] = {
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "mechbus.stream_seq": outcome.stream_seq,
        "mechbus.result": outcome.result.value,
    }
    optional = {
        "messaging.message.id": outcome.message_id,
        "mechbus.message.type": outcome.type,
        "mechbus.sender": outcome.sender,
        "mechbus.reason": outcome.reason.value if outcome.reason is not None else None,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    # A refused message's subject is whatever its sender wrote after its own prefix.
    if outcome.reason is None:
        attributes["messaging.destination.name"] = delivery.subject
    return attributes
