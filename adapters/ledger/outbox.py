"""The federal services' outbox: a message is kept durably before it is published, and a relay
publishes whatever NATS did not confirm once NATS is back.

``mechbus send`` writes the message here first (in the ledger database, sealed, as it carries
personal fields), then publishes it. If NATS is unreachable the command still succeeds: the
request is recorded, and the relay (run by ``mechbus up``, or ``mechbus outbox relay``)
publishes it later with the same message id, so a publish whose PubAck was lost and is then
relayed again collapses in the stream's duplicate window, or in the ledger after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from adapters.ledger.aggressors import barred_recipients
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import OutboxRow
from bus.domain.msgids import CopyIds
from bus.domain.ports import Publisher, PublishError
from bus.runtime import metrics, publishing
from bus.runtime.undeliverable import error_summary
from schemas.envelope import Envelope
from schemas.messages import parse_message
from schemas.registry import active_registry

log = logging.getLogger("mechbus.outbox")


@dataclass(frozen=True)
class Waiting:
    """An outbox entry not yet confirmed by JetStream (no personal data: fit for a terminal)."""

    message_id: str
    type: str
    source: str
    created_at: datetime
    attempts: int
    last_error: str | None


class Outbox:
    def __init__(self, ledger: SqlLedger, clock: Callable[[], datetime] | None = None) -> None:
        self._ledger = ledger
        self._clock = clock or (lambda: datetime.now(UTC))

    def put(self, message: Envelope) -> bool:
        """Keep ``message`` until it is published; False if it was kept already (a retry)."""
        row = OutboxRow(
            message_id=message.id,
            type=message.type,
            source=message.source,
            created_at=self._clock(),
            body_sealed=self._ledger.sealer.seal(message.to_json(), _context(message.id)),
        )
        with Session(self._ledger.engine) as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                return False
        return True

    def waiting(self, limit: int | None = 1000, offset: int = 0) -> list[Waiting]:
        with Session(self._ledger.engine) as session:
            rows = session.exec(_unpublished().limit(limit).offset(offset)).all()
            return [
                Waiting(r.message_id, r.type, r.source, r.created_at, r.attempts, r.last_error)
                for r in rows
            ]

    def _next(self, limit: int) -> list[Envelope]:
        with Session(self._ledger.engine) as session:
            rows = session.exec(_unpublished().limit(limit)).all()
            return [
                parse_message(self._ledger.sealer.open(r.body_sealed, _context(r.message_id)))
                for r in rows
            ]

    def discard(self, message_id: str) -> None:
        """Forget a message its sender may not send: nobody is to relay it in their name."""
        with Session(self._ledger.engine) as session:
            row = session.exec(select(OutboxRow).where(OutboxRow.message_id == message_id)).first()
            if row is not None and row.published_at is None:
                session.delete(row)
                session.commit()

    def _barred(self, message: Envelope) -> tuple[str, ...]:
        """The recipients named presumed aggressor on the message's case, as of now."""
        with Session(self._ledger.engine) as session:
            return barred_recipients(session, message, active_registry())[1]

    def published(self, message_id: str) -> None:
        self._update(message_id, published_at=self._clock())

    def failed(self, message_id: str, error: BaseException) -> None:
        self._update(message_id, error=error_summary(error)[:200])  # the column's width

    def _update(
        self, message_id: str, *, published_at: datetime | None = None, error: str | None = None
    ) -> None:
        with Session(self._ledger.engine) as session:
            row = session.exec(select(OutboxRow).where(OutboxRow.message_id == message_id)).one()
            if published_at is not None:
                row.published_at = published_at
            else:
                row.attempts += 1
                row.last_error = error
            session.add(row)
            session.commit()

    async def relay(
        self,
        publisher: Publisher,
        *,
        limit: int = 500,
        copy_ids: CopyIds | None = None,
    ) -> int:
        """Publish what waits, oldest first, each with its PubAck; stop at the first failure
        (NATS is still away) so order is kept. Returns how many were published."""
        sent = 0
        for message in await asyncio.to_thread(self._next, limit):
            barred = await asyncio.to_thread(self._barred, message)
            if barred:
                # named presumed aggressor on the case since it was kept: it goes to nobody
                await asyncio.to_thread(self.discard, message.id)
                metrics.OUTBOX_RELAYED.labels("discarded").inc()
                log.warning("outbox relay: %s discarded: %s", message.id, ", ".join(barred))
                continue
            try:
                # the deployment's copy ids: a copy whose PubAck was lost collapses
                await publishing.publish_message(publisher, message, copy_ids=copy_ids)
            except PublishError as exc:
                metrics.OUTBOX_RELAYED.labels("failed").inc()
                await asyncio.to_thread(self.failed, message.id, exc)
                log.warning(
                    "outbox relay: %s not published yet (%s)", message.id, type(exc).__name__
                )
                break
            metrics.OUTBOX_RELAYED.labels("published").inc()
            await asyncio.to_thread(self.published, message.id)
            sent += 1
        return sent


class OutboxRelay:
    """Relays the outbox now and every ``interval`` seconds (run by ``mechbus up``)."""

    def __init__(
        self,
        outbox: Outbox,
        publisher: Publisher,
        *,
        interval: float = 5.0,
        copy_ids: CopyIds | None = None,
    ) -> None:
        self._outbox = outbox
        self._copy_ids = copy_ids
        self._publisher = publisher
        self._interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self._outbox.relay(self._publisher, copy_ids=self._copy_ids)
                if sent:
                    log.info("outbox relay published %d messages", sent)
            except Exception:  # the ledger or NATS is away: the next round tries again
                log.exception("outbox relay failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)


def _unpublished() -> Any:
    return (
        select(OutboxRow).where(col(OutboxRow.published_at).is_(None)).order_by(col(OutboxRow.id))
    )


def _context(message_id: str) -> str:
    return f"outbox:{message_id}"
