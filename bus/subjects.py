"""NATS subject names: one place that says where each message travels.

``mech.v1.to.<agency>.<kind>``   everything addressed to an agency (requests, notices);
``mech.v1.from.<agency>.<kind>`` everything an agency says (responses, capacity).
Agency ids are two tokens (``gro.government``), so an agency's permissions are exactly
``mech.v1.to.<agency>.>`` to read and ``mech.v1.from.<agency>.>`` to write.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.envelope import Envelope
from schemas.registry import active_registry

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


def routes(message: Envelope) -> list[tuple[str, str]]:
    """(subject, Nats-Msg-Id) pairs a message is published on.

    A federal message with recipients goes to each recipient's inbox; each copy's
    Nats-Msg-Id is ``<id>:<recipient>`` so JetStream deduplicates retries of each copy
    without collapsing the copies. Anything else goes on the sender's outbox under its id.
    """
    kind = type(message).kind()
    sender = active_registry()[message.source]
    if sender.is_federal and message.recipients:
        return [
            (Route(Direction.TO, r, kind).subject, f"{message.id}:{r}") for r in message.recipients
        ]
    return [(Route(Direction.FROM, message.source, kind).subject, message.id)]
