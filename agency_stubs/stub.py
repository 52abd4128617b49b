"""A stub agency: answers what the bus brings it the way its profile says a real one would.

It uses only the agency client (bus.runtime.agency), as an agency outside the federal government
would. Delays are random but seeded, so a scenario plays out the same way each time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agency_stubs.profiles import Decision, Fulfilment, Profile, profile
from bus.runtime.agency import AgencyClient, IncomingRequest
from schemas.capacity import OfferReleased, PlacementConfirmed
from schemas.envelope import Envelope
from schemas.registry import AgencyKind, active_registry
from schemas.requests import RelocationRequest

log = logging.getLogger("mechbus.stub")

OFFICIAL_ROLES = {
    AgencyKind.GOVERNMENT: "Subsecretaría de Gobierno para Asuntos de Derechos Humanos",
    AgencyKind.PROSECUTOR: "Fiscalía Especializada para la Atención de Delitos contra Periodistas",
    AgencyKind.COMMISSION: "Presidencia de la Comisión Estatal de Derechos Humanos",
    AgencyKind.SHELTER: "Coordinación de la casa refugio",
}
COMMITTING = ("mech.request.protection_measure.v1", "mech.request.investigation.v1")


@dataclass
class StubAgency:
    agency: str
    profile: Profile = field(default_factory=lambda: profile("prompt"))
    seed: int = 0
    capacity: dict[str, Any] | None = None  # a shelter's capacity report
    handled: int = 0
    creds: Path | None = None  # the agency's nkey seed file, on a secured bus
    tls: ssl.SSLContext | None = None  # trusting the deployment's CA, when TLS is on

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.seed}:{self.agency}")
        self.free = int(self.capacity["spaces_now"]) if self.capacity else 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._offers: dict[str, int] = {}  # relocation id -> spaces held for it

    @property
    def kind(self) -> AgencyKind:
        return active_registry()[self.agency].kind

    async def run(self, servers: str | list[str], ready: asyncio.Event | None = None) -> None:
        """Answer what arrives until cancelled."""
        async with await AgencyClient.connect(
            servers, self.agency, creds=self.creds, tls=self.tls
        ) as client:
            await client.listen()
            if self.capacity is not None:
                await client.publish_capacity(**self.capacity)
            if ready is not None:
                ready.set()
            try:
                async for item in client.messages(idle_timeout=0.5):
                    # each request on its own task: a slow answer does not hold up the next
                    task = asyncio.create_task(self._handle(client, item))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            finally:
                for task in self._tasks:
                    task.cancel()

    async def _wait(self) -> None:
        await asyncio.sleep(self.profile.pause(self.rng))  # the agency taking its time

    async def _handle(self, client: AgencyClient, item: object) -> None:
        try:
            if isinstance(item, IncomingRequest):
                await self._answer(client, item)
            elif isinstance(item, PlacementConfirmed) and self.profile.acknowledges:
                await self._wait()
                await client.arrived(item, item.data.people, item.data.arrival_on)
            elif isinstance(item, OfferReleased):
                self.free += self._offers.pop(item.thread, 0)
        except Exception:
            log.exception("%s could not answer", self.agency)

    async def _answer(self, client: AgencyClient, request: IncomingRequest) -> None:
        if not self.profile.acknowledges:
            return  # silent: the client sent its technical receipt; nobody answers
        await self._wait()
        role = OFFICIAL_ROLES.get(self.kind, "Oficialía de partes")
        await request.acknowledge(role)
        self.handled += 1
        message = request.message
        if isinstance(message, RelocationRequest):
            await self._wait()
            people = message.data.people
            if self.free >= people and self.profile.decision is Decision.ACCEPT:
                self.free -= people  # held for this offer until confirmed or released
                self._offers[message.id] = people
                await client.offer(message, people, message.data.earliest)
            else:
                await request.decline("insufficient_resources", "No hay espacio suficiente.")
            return
        await self._wait()
        if self.profile.decision is Decision.DECLINE:
            await request.decline("not_competent", "Corresponde a otra autoridad.")
            return
        await request.accept()
        if message.type not in COMMITTING or self.profile.fulfilment is None:
            return
        await request.commit("C1", "Implementar lo solicitado", self._due(message))
        if self.profile.fulfilment is Fulfilment.OPEN:
            return
        await self._wait()
        if self.profile.fulfilment is Fulfilment.FULL:
            await client.fulfil(message, "C1", [f"OF-{self.agency.upper()}-{self.handled:04d}"])
        else:
            await client.fulfil_partly(
                message,
                "C1",
                [f"OF-{self.agency.upper()}-{self.handled:04d}"],
                "Sólo se cubrió parte del periodo por falta de personal.",
            )

    def _due(self, message: Envelope) -> datetime:
        """The date it commits to: what the request asks, unless its profile takes longer."""
        now = datetime.now(UTC)
        if self.profile.commits_days is not None:
            return now + timedelta(days=self.profile.commits_days)
        asked = getattr(message.data, "implement_by", None)
        return asked if asked is not None and asked > now else now + timedelta(days=7)
