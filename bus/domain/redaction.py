"""Need-to-know at the edge: what each recipient may receive of a message. Pure.

Personal details (``data.personal``: names, addresses, phones, coordinates) go only to the
recipients that must act on them, declared below per message type and kind of recipient.
Everyone else receives the message without them. A shelter in particular is told how many
people need a place, their needs and dates, and the state they come from; it learns who they
are only from the placement confirmation addressed to it alone.

Applied to each recipient's copy before it is published (bus.domain.copies) and again by the
agency client on receipt, so a mistake on one side does not expose anyone.
"""

from __future__ import annotations

import hashlib

from schemas.capacity import PlacementConfirmed
from schemas.envelope import Envelope
from schemas.registry import AgencyKind, AgencyRegistry

PERSONAL_FIELD = "personal"

# (message type, kind of recipient) -> may receive data.personal
PERSONAL_ALLOWED: frozenset[tuple[str, AgencyKind]] = frozenset(
    {
        # the state police must know whom they protect and where
        ("mech.request.protection_measure.v1", AgencyKind.GOVERNMENT),
        # the prosecutor investigates attacks on a named person
        ("mech.request.investigation.v1", AgencyKind.PROSECUTOR),
    }
)
# Federal recipients (the Mechanism, the Board) may always know; shelters only once confirmed.


def may_know_personal(message: Envelope, recipient: str, registry: AgencyRegistry) -> bool:
    agency = registry.get(recipient)
    if agency is None:
        return False
    if agency.is_federal:
        return True
    if isinstance(message, PlacementConfirmed):
        return message.data.shelter == recipient  # confirmed: now, and only now
    return (message.type, agency.kind) in PERSONAL_ALLOWED


def for_recipient(message: Envelope, recipient: str, registry: AgencyRegistry) -> Envelope:
    """The copy of ``message`` that ``recipient`` may receive."""
    if may_know_personal(message, recipient, registry):
        return message
    return without_personal(message)


def without_personal(message: Envelope) -> Envelope:
    """``message`` with its personal details emptied, as a recipient not entitled sees it."""
    personal = getattr(message.data, PERSONAL_FIELD, None)
    if not personal:
        return message
    emptied = () if isinstance(personal, tuple) else None
    data = message.data.model_copy(update={PERSONAL_FIELD: emptied})
    return message.model_copy(update={"data": data})


def content_digest(message: Envelope) -> str:
    """What every recipient's copy of ``message`` has in common: a digest of it without its
    personal details, so the hub can tell another recipient's copy from a different message
    sent under the same id."""
    return hashlib.sha256(without_personal(message).to_json()).hexdigest()
