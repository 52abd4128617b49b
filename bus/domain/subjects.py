"""NATS subject names: one place that says where each message travels.

``mech.v1.to.<agency>.<kind>``   everything addressed to an agency (requests, notices);
``mech.v1.from.<agency>.<kind>`` everything an agency says (responses, capacity), and what
the Mechanism hands to the hub alone (placement confirmations, ``RELEASED_BY_HUB``).
Agency ids are two tokens (``gro.government``), so an agency's permissions are exactly
``mech.v1.to.<agency>.>`` to read and ``mech.v1.from.<agency>.>`` to write.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.envelope import Envelope
from schemas.registry import AgencyRegistry

PREFIX = "mech.v1"
ALL = f"{PREFIX}.>"


class Direction(StrEnum):
    TO = "to"
    FROM = "from"


@dataclass(frozen=True)
class Route:
    direction: Direction
    agency: str
    kind: str

    @property
    def subject(self) -> str:
        return f"{PREFIX}.{self.direction}.{self.agency}.{self.kind}"  # StrEnum: its value


def inbox_prefix(agency: str) -> str:
    """Each agency's replies arrive under its own prefix, so permissions can confine it."""
    return f"_INBOX.{agency}"


def deliver_prefix(agency: str) -> str:
    """The prefix a JetStream pull subscription builds its inbox from: nats-py appends the
    random token directly, so the separating dot is part of the prefix."""
    return f"{inbox_prefix(agency)}."


def inbox(agency: str) -> str:
    """Every subject addressed to ``agency``."""
    return f"{PREFIX}.{Direction.TO.value}.{agency}.>"


def outbox(agency: str) -> str:
    """Every subject ``agency`` may publish on."""
    return f"{PREFIX}.{Direction.FROM.value}.{agency}.>"


def parse(subject: str) -> Route | None:
    """The route a subject names, or None when it is not a mechbus v1 subject."""
    parts = subject.split(".")
    if len(parts) != 6 or f"{parts[0]}.{parts[1]}" != PREFIX:
        return None
    try:
        direction = Direction(parts[2])
    except ValueError:
        return None
    return Route(direction, f"{parts[3]}.{parts[4]}", parts[5])


def writer(subject: str) -> tuple[Direction, str | None] | None:
    """Whose subject this is by its first tokens, however it goes on: the direction, and the
    agency whose inbox or outbox it is (None if the subject stops short of naming one).
    Permissions are granted on these prefixes, so a subject with tokens too many, too long or
    unknown still says who could have published it."""
    parts = subject.split(".", 5)
    if len(parts) < 3 or f"{parts[0]}.{parts[1]}" != PREFIX:
        return None
    try:
        direction = Direction(parts[2])
    except ValueError:
        return None
    return direction, (f"{parts[3]}.{parts[4]}" if len(parts) >= 5 else None)


RELEASED_BY_HUB = frozenset({"placement_confirmed"})
"""Kinds whose recipients' copies only the hub publishes. A placement confirmation carries the
people's details, and a shelter may hold them only once the hub has recorded its accepted
placement; so the Mechanism hands the confirmation to the hub on its own outbox (which no
shelter can read) and the hub releases the shelter's copy after the commit."""


def routes(message: Envelope, registry: AgencyRegistry) -> list[tuple[str, str | None]]:
    """(subject, copy key) pairs a message travels on: those its sender publishes
    (``published_routes``), then those the hub releases after recording it."""
    return [*published_routes(message, registry), *released_routes(message, registry)]


def published_routes(message: Envelope, registry: AgencyRegistry) -> list[tuple[str, str | None]]:
    """(subject, copy key) pairs the sender publishes a message on.

    A federal message with recipients goes to each recipient's inbox, one copy each; the copy
    key ``<id>:<recipient>`` names that copy, and its ``Nats-Msg-Id`` is derived from it with
    the deployment's key (bus.domain.msgids), so retries of each copy collapse in the duplicate
    window without collapsing the copies, and no agency can compute it. Anything else, and a
    kind the hub releases, goes on the sender's outbox with no copy key: no ``Nats-Msg-Id``
    at all (see bus.domain.msgids).
    """
    kind = type(message).kind()
    if kind not in RELEASED_BY_HUB and _federal_with_recipients(message, registry):
        return _inbox_routes(message)
    return [(Route(Direction.FROM, message.source, kind).subject, None)]


def released_routes(message: Envelope, registry: AgencyRegistry) -> list[tuple[str, str | None]]:
    """(subject, copy key) pairs only the hub publishes, once it has recorded the message."""
    if type(message).kind() in RELEASED_BY_HUB and _federal_with_recipients(message, registry):
        return _inbox_routes(message)
    return []


def _federal_with_recipients(message: Envelope, registry: AgencyRegistry) -> bool:
    return registry[message.source].is_federal and bool(message.recipients)


def _inbox_routes(message: Envelope) -> list[tuple[str, str | None]]:
    kind = type(message).kind()
    return [(Route(Direction.TO, r, kind).subject, f"{message.id}:{r}") for r in message.recipients]
