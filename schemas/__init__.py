"""The mechbus v1 contract: the envelope, the message families and the agency registry.

The names below load on first use (PEP 562), so that importing one module of the contract,
such as ``schemas.errors``, does not build every message model."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Confidentiality": "schemas.envelope",
    "Envelope": "schemas.envelope",
    "Family": "schemas.envelope",
    "Urgency": "schemas.envelope",
    "new_message_id": "schemas.envelope",
    "MESSAGE_TYPES": "schemas.messages",
    "Message": "schemas.messages",
    "parse_message": "schemas.messages",
    "Agency": "schemas.registry",
    "AgencyKind": "schemas.registry",
    "AgencyRegistry": "schemas.registry",
    "active_registry": "schemas.registry",
    "use_registry": "schemas.registry",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'schemas' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
