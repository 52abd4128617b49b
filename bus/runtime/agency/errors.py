"""What the agency client raises when the bus refuses something."""

from __future__ import annotations

from bus.domain.errors import TransportError


class AgencyError(TransportError, RuntimeError):
    """The bus refused something this agency asked for; the message says why."""


class AgencyPermissionError(AgencyError, PermissionError):
    """The server refused a subject this agency has no permission for."""
