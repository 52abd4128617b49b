"""Intake: turn raw bytes from a subject into a typed message, or a refusal saying why.

Pure: no I/O. The checks run cheapest first; each refusal names a reason code from the
contract and a detail the sender can act on. Details never quote the body, which may hold
personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from bus.domain import bounds, subjects
from bus.domain.federal import MECHANISM
from bus.domain.streams import MAX_MESSAGE_BYTES
from schemas.envelope import MESSAGE_ID_PATTERN, Envelope
from schemas.messages import MESSAGE_TYPES
from schemas.registry import AgencyRegistry
from schemas.tracking import RejectionReason

_VALID_ID = re.compile(MESSAGE_ID_PATTERN)
FEDERAL_SENDER = MECHANISM
"""Who is told about bad input on an inbox subject (only federal users may publish there)."""


@dataclass(frozen=True)
class Refusal:
    reason: RejectionReason
    detail: str
    sender: str | None  # the agency to notify; None when no agency can be named
    message_id: str | None = None
    errors: tuple[tuple[str, str], ...] = field(default=())
    type: str | None = None  # the message's type, once it decoded as one of the contract's

    @classmethod
    def of(cls, message: Envelope, reason: RejectionReason, detail: str) -> Refusal:
        """A decoded message refused for ``reason``: its sender is told."""
        return cls(reason, detail, message.source, message.id, type=message.type)


def sender_of(subject: str, registry: AgencyRegistry) -> str | None:
    """The agency accountable for a subject: its outbox's owner, or the Mechanism for inboxes
    (only federal users may write there), however many tokens follow."""
    written = subjects.writer(subject)
    if written is None:
        return None
    direction, agency = written
    if direction is subjects.Direction.TO:
        return FEDERAL_SENDER
    return agency if agency in registry else None


def decode(
    subject: str, data: bytes, registry: AgencyRegistry, *, max_bytes: int = MAX_MESSAGE_BYTES
) -> Envelope | Refusal:
    """The message in ``data``, or why it is refused. Total: it never raises."""
    try:
        return _decode(subject, data, registry, max_bytes)
    except Exception as exc:
        # A failure here is a bug in reading, not a fault of the ledger: refusing the input
        # now keeps it (and its sender's notice) instead of costing the hub retries.
        detail = f"the hub could not read this message ({type(exc).__name__}); it is kept"
        return Refusal(RejectionReason.MALFORMED, detail, _sender_or_none(subject, registry))


def _sender_or_none(subject: str, registry: AgencyRegistry) -> str | None:
    try:
        return sender_of(subject, registry)
    except Exception:
        return None


def _decode(
    subject: str, data: bytes, registry: AgencyRegistry, max_bytes: int
) -> Envelope | Refusal:
    routed = _route(subject, registry)
    if isinstance(routed, Refusal):
        return routed
    route, sender = routed
    if len(data) > max_bytes:
        detail = f"message is {len(data)} bytes; the limit is {max_bytes}"
        return Refusal(RejectionReason.OVERSIZE, detail, sender)
    try:
        document = bounds.load(data)
    except bounds.OutOfBounds as exc:
        errors = ((exc.location, exc.problem),) if exc.location else ()
        return Refusal(RejectionReason.MALFORMED, str(exc), sender, errors=errors)
    if not isinstance(document, dict):
        return Refusal(RejectionReason.MALFORMED, "body must be a JSON object", sender)
    raw_id = document.get("id")
    # Kept with the dead letter and named in logs and the notice only if it is a valid id.
    message_id = raw_id if isinstance(raw_id, str) and _VALID_ID.fullmatch(raw_id) else None
    type_name = document.get("type")
    if type_name not in MESSAGE_TYPES:
        detail = f"unknown message type {str(type_name)[:100]!r}; see the published contract"
        return Refusal(RejectionReason.UNKNOWN_TYPE, detail, sender, message_id)
    try:
        # The type is known, so validate against its own model: error locations then read
        # "data.instructions", not "mech.request....v1.data.instructions".
        message = MESSAGE_TYPES[type_name].model_validate_json(data)
    except ValidationError as exc:
        return _schema_refusal(exc, sender, message_id)
    return _check_route(message, route, sender, registry)


def _route(subject: str, registry: AgencyRegistry) -> tuple[subjects.Route, str] | Refusal:
    """The route and the accountable sender, or the refusal of a subject no valid message
    travels on: too long, unreadable, or not a v1 route of a registered agency. Its sender
    (known from the subject's first tokens) is told."""
    sender = sender_of(subject, registry)
    if len(subject) > bounds.MAX_SUBJECT_LENGTH:
        detail = (
            f"the subject is {len(subject)} characters long; no mechbus subject is longer "
            f"than {bounds.MAX_SUBJECT_LENGTH}"
        )
        return Refusal(RejectionReason.WRONG_SUBJECT, detail, sender)
    character = bounds.forbidden_character(subject)
    if character is not None:
        detail = f"the subject contains {character}, which no mechbus subject does"
        return Refusal(RejectionReason.WRONG_SUBJECT, detail, sender)
    route = subjects.parse(subject)
    if route is None or sender is None:
        detail = (
            f"{subject!r} is not a mechbus v1 subject of a registered agency "
            "(mech.v1.to.<agency>.<kind> or mech.v1.from.<agency>.<kind>)"
        )
        return Refusal(RejectionReason.WRONG_SUBJECT, detail, sender)
    return route, sender


def _schema_refusal(exc: ValidationError, sender: str, message_id: str | None) -> Refusal:
    errors = tuple(
        (".".join(str(p) for p in err["loc"]), err["msg"])
        for err in exc.errors(include_input=False, include_url=False)
    )
    unknown_agency = any("unknown agency" in problem for _, problem in errors)
    reason = RejectionReason.UNKNOWN_AGENCY if unknown_agency else RejectionReason.SCHEMA
    detail = "; ".join(f"{loc}: {problem}" for loc, problem in errors[:10])
    return Refusal(reason, detail[:4000], sender, message_id, errors[:50])


def _check_route(
    message: Envelope, route: subjects.Route, sender: str, registry: AgencyRegistry
) -> Envelope | Refusal:
    if route.direction is subjects.Direction.FROM and message.source != route.agency:
        detail = f"source {message.source} does not match the sending agency {route.agency}"
        return Refusal(RejectionReason.SPOOFED_SOURCE, detail, sender, message.id)
    federal_source = registry[message.source].is_federal
    if route.direction is subjects.Direction.TO and not federal_source:
        detail = f"only the Mechanism may publish to {route.agency}'s inbox, not {message.source}"
        return Refusal(RejectionReason.SPOOFED_SOURCE, detail, sender, message.id)
    expected = [subject for subject, _ in subjects.routes(message, registry)]
    if route.subject not in expected:
        detail = f"{message.type} from {message.source} belongs on {', '.join(expected)}"
        return Refusal(RejectionReason.WRONG_SUBJECT, detail, sender, message.id)
    return message
