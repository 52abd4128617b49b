"""The deadline sweeper: walks the escalation ladder from what the ledger says is overdue.

No in-memory timers: every sweep asks the ledger what is owed and what already fired, so a
restart, a crash between rungs or a clock jump changes nothing about what is sent. Each rung
is re-checked against the ledger right before it fires, and its message id is fixed by the
rung, so a rung sent twice is absorbed by JetStream's duplicate window and the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from bus.domain.board import BoardPlan
from bus.domain.clock import utc_now
from bus.domain.ladder import Obligation, rung_message, rungs_due
from bus.domain.msgids import CopyIds
from bus.domain.policy import Policy
from bus.domain.ports import Publisher, SweepSource
from bus.runtime import metrics, publishing
from schemas.envelope import Envelope
from schemas.registry import AgencyRegistry, active_registry

log = logging.getLogger("mechbus.sweeper")


class Sweeper:
    def __init__(
        self,
        source: SweepSource,
        publisher: Publisher,
        *,
        policy: Policy,
        clock: Callable[[], datetime] = utc_now,
        registry: AgencyRegistry | None = None,
        interval: float = 30.0,
        copy_ids: CopyIds | None = None,
    ) -> None:
        self.source = source
        self.publisher = publisher  # speaking as the hub, on the bus's stream
        self.policy = policy
        self.clock = clock
        self.registry = registry or active_registry()
        self.interval = interval
        self.copy_ids = copy_ids  # the deployment's, so a rung sent twice collapses
        self.sent = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> list[Envelope]:
        """One pass over everything overdue; returns the rung messages it published."""
        now = self.clock()
        obligations = await asyncio.to_thread(self.source.open_obligations, now)
        board = await asyncio.to_thread(self._board, now, obligations)
        published: list[Envelope] = []
        for obligation in obligations:
            rungs = rungs_due(obligation, self.policy, now, self.registry, board)
            if not rungs or not await asyncio.to_thread(self.source.still_owed, obligation):
                continue
            fired = await asyncio.to_thread(self.source.fired, obligation)
            for rung in rungs:
                if rung.level in fired:
                    continue
                message = rung_message(rung)
                await publishing.publish_message(self.publisher, message, copy_ids=self.copy_ids)
                published.append(message)
                metrics.ESCALATIONS_FIRED.labels(rung.level.value).inc()
                log.info(
                    "%s: %s owes %s on request %s",
                    rung.level.value,
                    obligation.agency,
                    obligation.clock.value,
                    obligation.request_id,
                )
        self.sent += len(published)
        return published

    def _board(self, now: datetime, obligations: list[Obligation]) -> BoardPlan:
        """The upcoming sessions and the consents of the cases owed something."""
        cases = {ob.case_ref for ob in obligations if ob.case_ref is not None}
        return BoardPlan(
            tuple(self.source.upcoming_board_sessions(now)),
            self.policy.board_cutoff(),
            self.source.board_consents(cases),
        )

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="mechbus-sweeper")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.sweep_once()
            except Exception:  # the next sweep tries again; nothing is lost by waiting
                log.exception("sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
