"""A stub agency: receives its requests, acknowledges them by an official role, and accepts."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bus.agency import AgencyClient
from schemas.registry import AgencyKind, active_registry

log = logging.getLogger("mechbus.stub")

OFFICIAL_ROLES = {
    AgencyKind.GOVERNMENT: "Subsecretaría de Gobierno para Asuntos de Derechos Humanos",
    AgencyKind.PROSECUTOR: "Fiscalía Especializada para la Atención de Delitos contra Periodistas",
    AgencyKind.COMMISSION: "Presidencia de la Comisión Estatal de Derechos Humanos",
    AgencyKind.SHELTER: "Coordinación de la casa refugio",
}


@dataclass
class StubAgency:
    agency: str
    accept: bool = True
    handled: int = 0

    @property
    def official_role(self) -> str:
        return OFFICIAL_ROLES.get(active_registry()[self.agency].kind, "Oficialía de partes")

    async def run(self, servers: str | list[str], ready: asyncio.Event | None = None) -> None:
        """Answer requests until cancelled."""
        async with await AgencyClient.connect(servers, self.agency) as client:
            await client.listen()
            if ready is not None:
                ready.set()
            async for request in client.requests(idle_timeout=0.5):
                await request.acknowledge(self.official_role)
                if self.accept:
                    await request.accept()
                    if request.message.type == "mech.request.protection_measure.v1":
                        due = datetime.now(UTC) + timedelta(days=7)
                        await request.commit("C1", "Implementar las medidas solicitadas", due)
                self.handled += 1
                log.info("%s answered request %s", self.agency, request.id)
