"""Need-to-know at the edge: what each recipient may receive of a message. Pure.

A shelter is told how many people need a place, their needs and dates, and the state they
come from; never who they are or where they live, until the Mechanism confirms a placement
with that shelter (the confirmation, addressed to it alone, carries what it must know).
"""

from __future__ import annotations

from schemas.capacity import PlacementConfirmed
from schemas.envelope import Envelope
from schemas.registry import AgencyKind, active_registry

PERSONAL_FIELD = "personal"


def for_recipient(message: Envelope, recipient: str) -> Envelope:
    """The copy of ``message`` that ``recipient`` may receive."""
    agency = active_registry().get(recipient)
    if agency is None or agency.kind is not AgencyKind.SHELTER:
        return message
    if isinstance(message, PlacementConfirmed) and message.data.shelter == recipient:
        return message  # confirmed: now, and only now, the shelter gets the details
    personal = getattr(message.data, PERSONAL_FIELD, None)
    if personal:
        emptied = () if isinstance(personal, tuple) else None
        data = message.data.model_copy(update={PERSONAL_FIELD: emptied})
        return message.model_copy(update={"data": data})
    return message
