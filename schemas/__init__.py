"""The mechbus v1 contract: the envelope, the message families and the agency registry."""

from schemas.envelope import Confidentiality, Envelope, Family, Urgency, new_message_id
from schemas.messages import MESSAGE_TYPES, Message, parse_message
from schemas.registry import Agency, AgencyKind, AgencyRegistry, active_registry, use_registry

__all__ = [
    "MESSAGE_TYPES",
    "Agency",
    "AgencyKind",
    "AgencyRegistry",
    "Confidentiality",
    "Envelope",
    "Family",
    "Message",
    "Urgency",
    "active_registry",
    "new_message_id",
    "parse_message",
    "use_registry",
]
