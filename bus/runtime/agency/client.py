"""The agency client: connected as one agency, it reads the agency's own inbox and speaks for it.

It reads the inbox through the agency's own durable consumer, sends the technical delivery
receipt by itself as soon as a request arrives, and sends what the agency's people decide
(bus.runtime.agency.steps, bus.runtime.agency.incoming).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from bus.domain import redaction, subjects
from bus.domain.clock import utc_now
from bus.domain.msgids import CopyIds
from bus.domain.ports import Published, PublishError
from bus.domain.streams import ConsumerSpec, StreamSpec, agency_consumer
from bus.runtime import jetstream, publishing
from bus.runtime.agency.errors import AgencyError, AgencyPermissionError
from bus.runtime.agency.incoming import IncomingRequest
from bus.runtime.agency.replies import E, delivery_receipt, reply_from, trace_context
from bus.runtime.agency.steps import AgencySteps
from bus.runtime.transport import JetStreamTransport
from schemas.envelope import Body, Envelope, Family
from schemas.messages import parse_message
from schemas.registry import active_registry
from schemas.requests import OPENING_REQUESTS
from schemas.responses import DeliveryReceipt

log = logging.getLogger("mechbus.agency")

TRACES_KEPT = 4096


class AgencyClient(AgencySteps):
    """Connected as one agency. ``async with await AgencyClient.connect(url, "gro.government")``."""

    def __init__(
        self,
        agency: str,
        nc: Client,
        *,
        stream: StreamSpec | None = None,
        clock: Callable[[], datetime] = utc_now,
        auto_receipt: bool = True,
        violations: list[str] | None = None,
        copy_ids: CopyIds | None = None,
    ) -> None:
        self.registry = active_registry()
        if agency not in self.registry:
            raise ValueError(f"unknown agency {agency!r}: not in the agency registry")
        self.agency = agency
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.stream = stream or StreamSpec()
        self.transport = JetStreamTransport(self.js, self.stream.name)
        self.clock = clock
        self.auto_receipt = auto_receipt
        # A federal client's copies carry headers only the deployment can compute
        # (bus.domain.msgids); an agency's own messages carry none.
        self.copy_ids = copy_ids
        self.notices: asyncio.Queue[Envelope] = asyncio.Queue()
        # nats-py reports permission violations only to the error callback; they are kept
        # here and raised to the caller of the operation they broke.
        self.violations: list[str] = violations if violations is not None else []
        self.undecodable = 0
        # Each request's trace context, by id, carried on by every answer to it.
        self._traces: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._sub: JetStreamContext.PullSubscription | None = None

    @classmethod
    async def connect(
        cls,
        servers: str | list[str],
        agency: str,
        *,
        creds: Path | None = None,
        tls: ssl.SSLContext | None = None,
        **options: Any,
    ) -> AgencyClient:
        """Connect as ``agency``; ``creds`` is its nkey seed file (``mechbus creds issue``),
        ``tls`` the context trusting the deployment's CA when the server requires TLS."""
        client_options = {
            k: options.pop(k)
            for k in ("stream", "clock", "auto_receipt", "copy_ids")
            if k in options
        }
        violations: list[str] = []
        refused = asyncio.Event()

        async def keep_violations(exc: Exception) -> None:
            text = str(exc).lower()
            if "permissions violation" in text:
                violations.append(str(exc))
            elif "authorization violation" in text:
                refused.set()

        connecting = asyncio.ensure_future(
            jetstream.connect(
                servers,
                name=f"mechbus-{agency}",
                agency=agency,
                creds=creds,
                tls=tls,
                error_cb=keep_violations,
                **options,
            )
        )
        # nats-py would retry a refused login for as long as it retries a lost server;
        # a refusal is final, so stop and say so.
        watching = asyncio.ensure_future(refused.wait())
        await asyncio.wait({connecting, watching}, return_when=asyncio.FIRST_COMPLETED)
        watching.cancel()
        if not connecting.done():
            connecting.cancel()
            raise AgencyPermissionError(
                f"the server refused {agency}'s credentials"
                + ("" if creds else " (none were given)")
            )
        return cls(agency, connecting.result(), violations=violations, **client_options)

    def _violation(self, about: str) -> str | None:
        # nats-py lower-cases the server's error text, subjects included
        return next((v for v in self.violations if about.lower() in v.lower()), None)

    async def __aenter__(self) -> AgencyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        if not self.nc.is_closed:
            await self.nc.drain()

    def reply(self, cls: type[E], request: Envelope, body: Body) -> E:
        """A response of type ``cls`` to ``request``, from this agency."""
        return reply_from(self.agency, cls, request, body, self.clock())

    async def send(self, message: Envelope) -> list[Published]:
        """Publish and wait for JetStream's PubAck (a lost PubAck is safe to retry)."""
        if message.source != self.agency:
            raise ValueError(f"this client speaks as {self.agency}, not {message.source}")
        traced = self._traces.get(message.causation_id or "")
        try:
            return await publishing.publish_message(
                self.transport,
                message,
                copy_ids=self.copy_ids,
                registry=self.registry,
                headers=traced,
            )
        except PublishError as exc:
            for subject, _ in subjects.published_routes(message, self.registry):
                violation = self._violation(subject)
                if violation:
                    raise AgencyPermissionError(violation) from exc
            raise

    async def listen(self) -> None:
        """Make sure this agency's durable consumer exists and is bound (idempotent)."""
        await self._subscription()

    async def answer(self, cls: type[E], request: Envelope, body: Body) -> E:
        """Send a response of type ``cls`` to ``request`` and wait for its PubAck."""
        reply = self.reply(cls, request, body)
        await self.send(reply)
        return reply

    def _refused(self, exc: Exception, about: str) -> Exception:
        violation = self._violation(about) or self._violation("_INBOX")
        return AgencyPermissionError(violation) if violation else exc

    async def _create_own_consumer(self, spec: ConsumerSpec) -> None:
        """On an open development server the client may create its consumer; on a secured one
        only the hub may (the filter decides what an agency reads), and this is refused."""
        try:
            await jetstream.ensure_consumer(self.js, self.stream, spec)
        except TimeoutError as exc:
            refused = self._refused(exc, spec.durable)
            if isinstance(refused, AgencyPermissionError):
                raise AgencyError(
                    f"no consumer {spec.durable} was provisioned for {self.agency}: the hub "
                    f"creates one for each agency holding credentials ({refused})"
                ) from exc
            raise

    async def _subscription(self) -> JetStreamContext.PullSubscription:
        if self._sub is None:
            spec = agency_consumer(self.agency)
            # The hub provisions each agency's consumer (its filter decides what the agency
            # may read, so the agency must not write it); the agency only binds to it.
            try:
                await self.js.consumer_info(self.stream.name, spec.durable)
            except NotFoundError:
                await self._create_own_consumer(spec)
            except TimeoutError as exc:
                raise self._refused(exc, spec.durable) from exc
            self._sub = await self.js.pull_subscribe_bind(
                spec.durable,
                self.stream.name,
                inbox_prefix=subjects.deliver_prefix(self.agency).encode(),
            )
        return self._sub

    async def _inbox(self, idle_timeout: float) -> AsyncIterator[Msg]:
        """Deliveries from this agency's inbox as they come, until the connection closes."""
        sub = await self._subscription()
        while not self.nc.is_closed:
            try:
                batch = await sub.fetch(batch=32, timeout=idle_timeout)
            except TimeoutError:
                continue
            for msg in batch:
                yield msg

    async def requests(self, *, idle_timeout: float = 1.0) -> AsyncIterator[IncomingRequest]:
        """Yield requests addressed to this agency, forever; notices go to ``self.notices``."""
        async for msg in self._inbox(idle_timeout):
            request = await self._take(msg)
            if isinstance(request, IncomingRequest):
                yield request

    async def messages(
        self, *, idle_timeout: float = 1.0
    ) -> AsyncIterator[IncomingRequest | Envelope]:
        """Everything addressed to this agency, forever: requests (receipted for you) as
        ``IncomingRequest``, anything else (placement confirmations, notices) as it came."""
        async for msg in self._inbox(idle_timeout):
            item = await self._take(msg, keep_notices=False)
            if item is not None:
                yield item

    async def next_notice(self, timeout: float = 10.0) -> Envelope:
        """The next notice from the hub (``rejected``, reminders...), read from the inbox."""
        if self.notices.empty():
            sub = await self._subscription()
            deadline = asyncio.get_running_loop().time() + timeout
            while self.notices.empty():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise TimeoutError(f"no notice for {self.agency} within {timeout}s")
                try:
                    batch = await sub.fetch(batch=32, timeout=remaining)
                except TimeoutError:
                    continue
                for msg in batch:
                    await self._take(msg)  # requests read here are receipted, not lost
        return self.notices.get_nowait()

    async def _take(
        self, msg: Msg, *, keep_notices: bool = True
    ) -> IncomingRequest | Envelope | None:
        try:
            message: Envelope = parse_message(msg.data)
        except ValidationError as exc:
            # Only the Mechanism and the hub write to this inbox; tell our operator, keep going.
            self.undecodable += 1
            log.error("undecodable message in %s inbox: %d errors", self.agency, exc.error_count())
            await msg.ack()
            return None
        guarded = redaction.for_recipient(message, self.agency, self.registry)
        if guarded is not message:
            # the publisher should have left these out: drop them here too, and say so
            log.warning("personal details removed from %s addressed to %s", message.id, self.agency)
            message = guarded
        if message.family is not Family.REQUEST:
            await msg.ack()
            if keep_notices:
                self.notices.put_nowait(message)
                return None
            return message
        self._remember_trace(message.id, msg.headers)
        # Receipts are for requests that open a thread; a recall or update of a request (which
        # may already be closed) is delivered without one.
        if self.auto_receipt and isinstance(message, OPENING_REQUESTS):
            await self.send(self._receipt(message))
        # Acknowledge the delivery only once the receipt has its PubAck: a crash before this
        # point redelivers the request, and the receipt's fixed id makes the resend harmless.
        await msg.ack()
        return IncomingRequest(message, self)

    def _remember_trace(self, request_id: str, headers: dict[str, str] | None) -> None:
        """Keep the request's trace context for the answers to it (the latest few thousand
        requests: an answer to an older one simply starts no trace of its own)."""
        context = trace_context(headers)
        if context:
            self._traces[request_id] = context
            self._traces.move_to_end(request_id)
            while len(self._traces) > TRACES_KEPT:
                self._traces.popitem(last=False)

    def _receipt(self, request: Envelope) -> DeliveryReceipt:
        return delivery_receipt(self.agency, request, self.clock())
