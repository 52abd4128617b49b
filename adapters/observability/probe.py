"""A standby hub's own look at NATS: it holds no hub connection while another hub records, yet
its /readyz must say whether it could take over, so it keeps one small connection for that."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from nats.aio.client import Client

log = logging.getLogger("mechbus.observability")

RETRY = 2.0  # seconds between attempts while NATS cannot be reached at all


class NatsProbe:
    """Connects in the background (and keeps trying until it has); ``problem`` says whether
    the connection is up now. Once connected, the client reconnects by itself."""

    def __init__(self, connect: Callable[[], Awaitable[Client]], retry: float = RETRY) -> None:
        self._connect = connect
        self._retry = retry
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None

    def problem(self) -> str | None:
        if self._client is not None and self._client.is_connected:
            return None
        return "nats: not connected"

    async def __aenter__(self) -> NatsProbe:
        self._task = asyncio.create_task(self._keep_trying(), name="nats-probe")
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None:
            with contextlib.suppress(Exception):  # a server gone away: nothing to close
                await self._client.close()

    async def _keep_trying(self) -> None:
        while self._client is None:
            try:
                self._client = await self._connect()
            except Exception as exc:  # unreachable, refused: the check says so meanwhile
                log.debug("standby's look at NATS failed: %s", type(exc).__name__)
                await asyncio.sleep(self._retry)
