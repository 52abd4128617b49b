"""The federal agency ids the bus itself relies on (the registry lists them with the rest)."""

from __future__ import annotations

HUB = "fed.hub"  # records everything, publishes notices, rungs and releases
MECHANISM = "fed.mechanism"  # sends the requests; answerable for whatever is on an inbox
BOARD = "fed.board"  # the Governing Board: sessions, agenda, attendance
BRIDGE = "fed.bridge"  # the HTTP bridge, publishing on behalf of agencies without NATS
# Units of the Executive Coordination that owe the Mechanism's own clocks (LPPDDHP arts. 26-27)
RECEPTION = "fed.reception"  # Unidad de Recepción de Casos y Reacción Rápida
RISK = "fed.risk"  # Unidad de Evaluación de Riesgos
# The instrument of an agenda item that a decision of the Mechanism itself set (beside "CIDH")
MECHANISM_INSTRUMENT = "Mecanismo"
