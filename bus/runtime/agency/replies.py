"""The responses every client sends, built the same way (this SDK, the HTTP bridge)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypeVar

from bus.domain.msgids import receipt_id
from schemas.envelope import Body, Envelope
from schemas.responses import DeliveryReceipt, DeliveryReceiptBody

CLIENT_NAME = "mechbus-agency-client/0.1"
# The W3C trace context a request may carry; an answer carries it on, so that a request and
# every answer to it form one trace (docs/contract/README.md). Copied as they are.
TRACE_HEADERS = ("traceparent", "tracestate")
E = TypeVar("E", bound=Envelope)


def reply_from(agency: str, cls: type[E], request: Envelope, body: Body, now: datetime) -> E:
    """A response of type ``cls`` to ``request`` from ``agency``: what every client sends
    (this SDK, the HTTP bridge)."""
    return cls.model_validate(
        {
            "source": agency,
            "time": now,
            "subject": request.subject,
            "correlation_id": request.thread,
            "causation_id": request.id,
            "data": body,
        }
    )


def trace_context(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The trace context among a request's headers, to send with each answer to it."""
    given = headers or {}
    return {name: given[name] for name in TRACE_HEADERS if name in given}


def delivery_receipt(
    agency: str, request: Envelope, now: datetime, client: str = CLIENT_NAME
) -> DeliveryReceipt:
    return DeliveryReceipt(
        id=receipt_id(request.id, agency),
        source=agency,
        time=now,
        subject=request.subject,
        correlation_id=request.thread,
        causation_id=request.id,
        data=DeliveryReceiptBody(received_at=now, client=client),
    )
