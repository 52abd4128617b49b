"""What each recipient of a message receives on the bus: its subjects, bytes and copy keys. Pure.

The transport publishes exactly what this decides: one copy per route of the sender
(bus.domain.subjects.published_routes), each carrying only what its recipient may know
(bus.domain.redaction).
"""

from __future__ import annotations

from bus.domain import redaction, subjects
from bus.domain.placement import Release
from schemas.envelope import Envelope
from schemas.registry import AgencyRegistry


def recipient_copies(message: Envelope, registry: AgencyRegistry) -> list[Release]:
    """The copies of ``message`` its sender publishes, one per route, each redacted for the
    agency the route belongs to."""
    copies = []
    for subject, copy_key in subjects.published_routes(message, registry):
        route = subjects.parse(subject)
        assert route is not None
        # Each recipient's copy carries only what that recipient may know.
        payload = redaction.for_recipient(message, route.agency, registry).to_json()
        copies.append(Release(subject, copy_key, payload))
    return copies
