"""Publishing for the bridge: as the ``fed.bridge`` NATS user, on the agency's own outbox,
with ``Nats-Msg-Id`` = envelope id, waiting for the PubAck (bus.runtime.jetstream.publish)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Protocol

from nats.aio.client import Client

from bus.domain.errors import TransportError
from bus.domain.permissions import BRIDGE
from bus.domain.streams import StreamSpec
from bus.runtime import jetstream
from schemas.envelope import Envelope


class Unavailable(TransportError, RuntimeError):
    """NATS did not confirm the message: nothing is known to be published."""


class Publisher(Protocol):
    async def publish(self, message: Envelope) -> bool:
        """Publish and wait for the PubAck; True when the stream had it already (a retry)."""
        ...

    async def close(self) -> None: ...


class NatsPublisher:
    def __init__(
        self,
        servers: str | None,
        *,
        creds: Path | None = None,
        tls: ssl.SSLContext | None = None,
        stream: StreamSpec | None = None,
        connect_timeout: float = 3.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self.servers = servers
        self.creds = creds
        self.tls = tls
        self.stream = stream or StreamSpec()
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self._nc: Client | None = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Client:
        async with self._lock:
            if self._nc is not None and not self._nc.is_closed:
                return self._nc
            if not self.servers:
                raise Unavailable("no NATS server is configured or running")
            try:
                self._nc = await asyncio.wait_for(
                    jetstream.connect(
                        self.servers,
                        name="mechbus-bridge",
                        agency=BRIDGE,
                        creds=self.creds,
                        tls=self.tls,
                    ),
                    self.connect_timeout,
                )
            except (TimeoutError, OSError, Exception) as exc:
                raise Unavailable(f"cannot reach NATS ({type(exc).__name__})") from exc
            return self._nc

    async def publish(self, message: Envelope) -> bool:
        nc = await self._connection()
        try:
            acks = await asyncio.wait_for(
                jetstream.publish(nc.jetstream(), message, stream=self.stream.name),
                self.publish_timeout,
            )
        except (TimeoutError, jetstream.PublishError) as exc:
            raise Unavailable(f"NATS did not confirm {message.id} ({type(exc).__name__})") from exc
        return all(bool(ack.duplicate) for ack in acks)

    async def problem(self) -> str | None:
        """What keeps the bridge from publishing now (for /readyz), or None: connecting if it
        holds no connection yet, so that a bridge whose NATS is away is not called ready."""
        try:
            nc = await self._connection()
        except Unavailable as exc:
            return f"nats: {exc}"
        return None if nc.is_connected else "nats: not connected"

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        self._nc = None
