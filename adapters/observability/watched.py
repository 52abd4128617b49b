"""What one process's health checks and metrics look at: its ledger, its NATS connection and,
for a hub, what the hub is doing now. The checks and the consumer's figures are read with a
short timeout each, so that a stuck ledger or server makes /readyz answer 503, not hang."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js.api import ConsumerInfo

from adapters.ledger.schema import HEAD, revision_of
from adapters.ledger.store import SqlLedger
from adapters.service.roles import HubStatus, Role
from bus.domain.streams import HUB_DURABLE

log = logging.getLogger("mechbus.observability")

NatsCheck = Callable[[], Awaitable[str | None]]  # None while fine, else what is wrong
MAX_PENDING = 10_000  # messages the hub consumer may have waiting and still be ready
TIMEOUT = 2.0  # seconds for each look at the ledger or at JetStream


@dataclass
class Watched:
    """What ``/readyz`` checks and ``/metrics`` reads in one process."""

    ledger: SqlLedger | None = None
    nats: NatsCheck | None = None  # a process holding no NATS connection has no such check
    status: HubStatus | None = None  # a hub's
    max_pending: int = MAX_PENDING
    timeout: float = TIMEOUT
    # Only a hub reports what the ledger holds, so that the bridge and the dashboard on the
    # same ledger add no copies of the same series (and no query per scrape).
    ledger_gauges: bool = False

    async def problems(self) -> list[str]:
        """Every readiness check that fails, named, in a fixed order; empty when ready."""
        found: list[str | None] = []
        if self.nats is not None:
            found.append(await self.nats())
        if self.ledger is not None:
            found.append(await self._ledger_problem())
        if self.status is not None:
            found.append(self._role_problem())
            found.append(await self._backlog_problem())
        return [problem for problem in found if problem]

    async def _ledger_problem(self) -> str | None:
        assert self.ledger is not None
        try:
            found = await asyncio.wait_for(
                asyncio.to_thread(revision_of, self.ledger.engine), self.timeout
            )
        except TimeoutError:
            return f"ledger: no answer within {self.timeout:g}s"
        except Exception as exc:  # whatever the driver raised: unreachable, for this check
            # the type only: a driver's message may quote a connection string
            return f"ledger: unreachable ({type(exc).__name__})"
        if found != HEAD:
            return f"ledger: at schema revision {found or 'none'}, not {HEAD}"
        return None

    def _role_problem(self) -> str | None:
        assert self.status is not None
        if self.status.role in (Role.ACTIVE, Role.STANDBY):
            return None
        return f"hub: {self.status.role.value}"

    async def _backlog_problem(self) -> str | None:
        assert self.status is not None
        if self.status.role is not Role.ACTIVE:
            return None  # a hub standing by consumes nothing
        info = await self.consumer()
        if info is None:
            return "hub consumer: no figures from JetStream"
        if info.num_pending is not None and info.num_pending > self.max_pending:
            return f"hub consumer: {info.num_pending} messages pending, over {self.max_pending}"
        return None

    async def consumer(self) -> ConsumerInfo | None:
        """The hub consumer's figures as JetStream has them now; None when there is no active
        hub, or no answer within the timeout."""
        hub = self.status.hub if self.status is not None else None
        if hub is None or not hub.connected:
            return None
        try:
            info: ConsumerInfo = await hub.js.consumer_info(
                hub.stream.name, HUB_DURABLE, timeout=self.timeout
            )
        except Exception as exc:  # a scrape goes on without these figures
            log.warning("hub consumer figures unavailable: %s", type(exc).__name__)
            return None
        return info


def hub_watched(ledger: SqlLedger, status: HubStatus, max_pending: int = MAX_PENDING) -> Watched:
    """A hub process: its ledger, its hub's connection to NATS, its role and its backlog."""

    async def nats() -> str | None:
        hub = status.hub
        if hub is not None:
            return None if hub.connected else "nats: not connected"
        if status.role is Role.STANDBY and status.standby_nats is not None:
            return status.standby_nats()  # could it take over: its own look at NATS
        return None  # nothing to check before the hub runs

    return Watched(ledger, nats, status, max_pending, ledger_gauges=True)
