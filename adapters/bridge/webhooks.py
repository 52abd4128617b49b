"""Webhooks: what is addressed to an agency, POSTed to the HTTPS endpoint it registered.

The dispatcher reads each such agency's own durable consumer as that agency (its own NATS
credentials, its own permissions: exactly what the agency SDK would read) and POSTs each
message, as the agency may see it (bus.domain.redaction), signed:

    X-Mechbus-Timestamp: <unix seconds>
    X-Mechbus-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>
    X-Mechbus-Message-Id: <envelope id>   (deliveries are at least once: deduplicate on it)

A receiver recomputes the HMAC over the raw body with the secret it was given
(``mechbus creds webhook set``), compares in constant time, and rejects a timestamp more
than five minutes from its clock (``verify_signature`` below does all three).

A 2xx answer is the delivery: for a request that opens a thread the dispatcher then sends the
agency's technical delivery receipt (the SDK's fixed id) and acknowledges the message. Anything
else (an error status, a timeout, a refused connection) is retried with exponential backoff by
nak-with-delay, until ``max_attempts``; then the message is let go (``term``) and the final
outcome recorded: the request stays pending in the ledger and in ``GET /v1/requests``.
Every attempt is a row of ``notification_attempts``. A slow endpoint holds only its own
slot: each POST has a timeout, each agency a bounded number in flight, and nothing waits
on another agency.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import ssl
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from adapters.bridge.store import BridgeStore, Webhook
from adapters.ledger.aggressors import case_of, named_on
from adapters.ledger.notifications import Attempt, record_attempt
from adapters.ledger.store import SqlLedger
from bus.domain import redaction, subjects
from bus.domain.clock import utc_now
from bus.domain.streams import StreamSpec, agency_consumer
from bus.runtime import jetstream, metrics
from bus.runtime.agency import delivery_receipt
from schemas.envelope import Envelope
from schemas.messages import parse_message
from schemas.registry import active_registry
from schemas.requests import OPENING_REQUESTS

log = logging.getLogger("mechbus.webhooks")

SIGNATURE_HEADER = "X-Mechbus-Signature"
TIMESTAMP_HEADER = "X-Mechbus-Timestamp"
MESSAGE_ID_HEADER = "X-Mechbus-Message-Id"
REPLAY_WINDOW_SECONDS = 300
WEBHOOK_CLIENT = "mechbus-webhook/0.1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    signed: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = REPLAY_WINDOW_SECONDS,
) -> bool:
    """What a receiver checks: the HMAC over ``timestamp.body``, and a fresh timestamp."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False  # a replay, or a clock far off
    return hmac.compare_digest(signature(secret, stamp, body), signed)


def backoff(attempt: int, base: float, cap: float = 600.0) -> float:
    """Seconds before attempt ``attempt + 1``: base, 2 base, 4 base ... at most ``cap``."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))


class WebhookDispatcher:
    def __init__(
        self,
        servers: str,
        store: BridgeStore,
        ledger: SqlLedger,
        *,
        creds_for: Callable[[str], Path | None] = lambda agency: None,
        nats_tls: ssl.SSLContext | None = None,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
        per_agency: int = 4,
        max_attempts: int = 8,
        base_delay: float = 5.0,
        stream: StreamSpec | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.servers = servers
        self.store = store
        self.ledger = ledger
        self.creds_for = creds_for
        self.nats_tls = nats_tls
        self.timeout = timeout
        self.per_agency = per_agency
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.stream = stream or StreamSpec()
        self.clock = clock
        self.http = httpx.AsyncClient(verify=verify, follow_redirects=False)
        self._tasks: list[asyncio.Task[None]] = []
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._inflight: set[asyncio.Task[None]] = set()
        self._connections: list[Client] = []
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Start delivering for every agency with a webhook now; ``watch`` adds later ones."""
        for webhook in self.store.webhooks():
            try:
                await self._begin(webhook.agency)
            except Exception as exc:  # NATS down, or no consumer yet: ``watch`` retries
                log.warning("webhooks for %s not started: %s", webhook.agency, type(exc).__name__)

    async def _begin(self, agency: str) -> None:
        nc = await asyncio.wait_for(self._connect(agency), 5.0)
        sub = await self._subscription(nc, agency)
        self._loops[agency] = asyncio.create_task(self._loop(agency, nc, sub))

    async def watch(self, interval: float = 10.0) -> None:
        """Follow the store: a webhook registered (CLI or bridge) starts being served, one
        removed stops, within ``interval``."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)
            wanted = {w.agency for w in self.store.webhooks()}
            for agency in sorted(wanted - set(self._loops)):
                try:
                    await self._begin(agency)
                except Exception as exc:  # NATS down, or no consumer yet: next round
                    log.warning("webhooks for %s not started: %s", agency, type(exc).__name__)
            for agency, task in list(self._loops.items()):
                if agency not in wanted or task.done():
                    task.cancel()
                    del self._loops[agency]

    async def stop(self) -> None:
        """Let the POSTs in flight finish (each has its timeout), then stop reading."""
        self._stopping.set()
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=self.timeout + 1)
        loops = [*self._tasks, *self._loops.values()]
        self._loops.clear()
        for task in loops:
            task.cancel()
        for task in loops:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for nc in self._connections:
            if not nc.is_closed:
                await nc.close()
        await self.http.aclose()

    async def _connect(self, agency: str) -> Client:
        nc = await jetstream.connect(
            self.servers,
            name=f"mechbus-webhooks-{agency}",
            agency=agency,
            creds=self.creds_for(agency),
            tls=self.nats_tls,
        )
        self._connections.append(nc)
        return nc

    async def _subscription(self, nc: Client, agency: str) -> Any:
        js = nc.jetstream()
        spec = agency_consumer(agency)
        try:
            await js.consumer_info(self.stream.name, spec.durable)
        except NotFoundError:  # an open development server: create it as the SDK would
            await jetstream.ensure_consumer(js, self.stream, spec)
        return await js.pull_subscribe_bind(
            spec.durable,
            self.stream.name,
            inbox_prefix=subjects.deliver_prefix(agency).encode(),
        )

    async def _loop(self, agency: str, nc: Client, sub: Any) -> None:
        slots = asyncio.Semaphore(self.per_agency)
        try:
            while not self._stopping.is_set():
                await slots.acquire()  # a free slot first: nothing fetched waits past ack_wait
                try:
                    batch = await sub.fetch(batch=1, timeout=1.0)
                except TimeoutError:
                    slots.release()
                    continue
                except Exception as exc:  # connection trouble: nats-py reconnects; try again
                    slots.release()
                    log.warning("webhook fetch for %s: %s", agency, type(exc).__name__)
                    await asyncio.sleep(1.0)
                    continue
                # read for each message: a new URL or secret applies at once
                webhook = self.store.webhook(agency)
                for msg in batch:
                    if webhook is None:  # removed meanwhile: leave it for the next reader
                        await msg.nak()
                        slots.release()
                        continue
                    task = asyncio.create_task(self._deliver(webhook, nc, msg))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
                    task.add_done_callback(lambda _: slots.release())
                if webhook is None:
                    return
        finally:
            if not nc.is_closed:
                await nc.close()

    async def _deliver(self, webhook: Webhook, nc: Client, msg: Msg) -> None:
        try:
            message: Envelope = parse_message(msg.data)
        except ValidationError:
            log.error("undecodable message in %s inbox; not posted", webhook.agency)
            await msg.ack()
            return
        attempt = msg.metadata.num_delivered
        if await asyncio.to_thread(self._withheld, message, webhook.agency):
            # On its inbox only through a raw publish the hub refused: never hand it over.
            log.warning(
                "%s withheld from %s: presumed aggressor on its case", message.id, webhook.agency
            )
            withheld = Attempt(
                "webhook",
                webhook.agency,
                message.id,
                attempt,
                "withheld",
                True,
                detail="presumed aggressor on its case",
            )
            await self._record(withheld)
            await msg.term()
            return
        message = redaction.for_recipient(message, webhook.agency, active_registry())
        body = message.to_json()
        stamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: signature(webhook.secret, stamp, body),
            MESSAGE_ID_HEADER: message.id,
            "X-Mechbus-Attempt": str(attempt),
            "User-Agent": WEBHOOK_CLIENT,
        }
        started = time.monotonic()
        status: int | None = None
        try:
            response = await self.http.post(
                webhook.url, content=body, headers=headers, timeout=self.timeout
            )
            status = response.status_code
            problem = None if 200 <= status < 300 else f"HTTP {status}"
        except httpx.TimeoutException:
            problem = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}"
        elapsed = int((time.monotonic() - started) * 1000)
        if problem is None:
            try:
                if isinstance(message, OPENING_REQUESTS):
                    receipt = delivery_receipt(
                        webhook.agency, message, self.clock(), WEBHOOK_CLIENT
                    )
                    await jetstream.publish(nc.jetstream(), receipt, stream=self.stream.name)
            except jetstream.PublishError as exc:
                problem = f"delivered, but the receipt was not confirmed ({exc})"[:200]
        delivered = problem is None
        final = delivered or attempt >= self.max_attempts
        outcome = "delivered" if delivered else "gave_up" if final else "failed"
        await self._record(
            Attempt(
                "webhook",
                webhook.agency,
                message.id,
                attempt,
                outcome,
                final,
                status,
                elapsed,
                problem,
            )
        )
        if delivered:
            await msg.ack()
        elif final:
            await msg.term()
        else:
            await msg.nak(delay=backoff(attempt, self.base_delay))

    def _withheld(self, message: Envelope, agency: str) -> bool:
        """Whether ``agency`` is named presumed aggressor on the case of ``message``."""
        with self.ledger.session() as session:
            return agency in named_on(session, case_of(session, message))

    async def _record(self, attempt: Attempt) -> None:
        # delivered, failed, gave_up or withheld: this module's words, never a status or an error
        metrics.WEBHOOK_ATTEMPTS.labels(attempt.outcome).inc()
        try:
            await asyncio.to_thread(record_attempt, self.ledger, attempt, self.clock())
        except Exception as exc:  # the record is best effort: never block delivery on it
            # its type only: a database error's text quotes the statement's parameters
            log.error(
                "could not record webhook attempt for %s: %s",
                attempt.message_id,
                type(exc).__name__,
            )
