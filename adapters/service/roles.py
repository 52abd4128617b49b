"""What a hub process is doing now (starting, standing by, active, stopping) and who holds the
ledger's lease, as its lease loop last saw it: read by its health endpoints and metrics."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bus.runtime.metrics import HUB_ACTIVE

if TYPE_CHECKING:
    from bus.runtime.hub import Hub


class Role(enum.StrEnum):
    STARTING = "starting"
    STANDBY = "standby"  # waiting for the lease: another hub records
    ACTIVE = "active"  # holds the lease: records, sweeps and relays
    STOPPING = "stopping"


@dataclass
class HubStatus:
    """Written by ``mechbus up``'s lease loop, read by /readyz and /metrics."""

    role: Role = Role.STARTING
    holder: str | None = None  # the lease's holder as last seen ("pid N on host"), or None
    since: float = field(default_factory=time.monotonic)  # when the role last changed
    hub: Hub | None = None  # the running hub while active
    # While standing by: what is wrong with this process's own connection to NATS (None: up).
    standby_nats: Callable[[], str | None] | None = None

    def become(self, role: Role, *, hub: Hub | None = None) -> None:
        self.role, self.hub, self.since = role, hub, time.monotonic()
        HUB_ACTIVE.set(1 if role is Role.ACTIVE else 0)
