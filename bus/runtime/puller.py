"""A batch puller for a durable JetStream pull consumer: in stream order, nothing dropped.

Why not FastStream's own pull loop: in FastStream 0.7.8 the batch loop catches
``nats.errors.TimeoutError`` while nats-py 2.16's ``fetch`` can raise a plain
``asyncio.TimeoutError`` when a fetch deadline runs out between its two pull requests. The loop
task then dies and the messages it had already fetched are neither handled nor acknowledged
until ``ack_wait`` redelivers them, behind their successors (measured: two 30 s stalls in 60
requests at a 5 ms batch wait). Here every timeout is caught, a fetch returns as soon as
messages are available (no waiting to fill a batch), and each batch is handled whole, in order.
The next fetch runs while a batch is being handled, and what it gathers is handed over as one
batch as soon as the handler is free: a commit overlaps the fetch behind it, and at a low rate
the messages that came during one commit share the next (a group commit).
In a cluster the loop also outlives the loss of a node: while the consumer's leader is being
re-elected fetches fail in several ways, and each is retried with a short, growing backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext
from nats.js.errors import APIError

from bus.domain.ports import BatchHandler
from bus.runtime.transport import JetStreamReceived

log = logging.getLogger("mechbus.puller")


RETRY_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0)
"""Pauses between failed fetches: a leader election takes a few seconds, a reconnect less."""

GATHER_TIMEOUT = 0.002
"""How long a fetch made while the handler is busy waits for messages: about one commit, so
that a message arriving during it is handed over, at the latest, this long after."""

HELD_TOUCH = 10.0
"""Seconds the handler may hold its batch before what was fetched behind it is marked in
progress (a third of the consumer's ack_wait)."""


async def _in_progress(messages: list[Msg]) -> None:
    await asyncio.gather(*(m.in_progress() for m in messages), return_exceptions=True)


def _kind(exc: BaseException) -> str:
    """The error's class and status code; its text may quote server internals at length."""
    code = getattr(exc, "code", None) if isinstance(exc, APIError) else None
    return type(exc).__name__ + (f" {code}" if code else "")


class BatchPuller:
    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        durable: str,
        handler: BatchHandler,
        *,
        batch_size: int = 256,
        idle_timeout: float = 0.5,
        inbox_prefix: str | None = None,
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._handler = handler
        self._batch_size = batch_size
        self._idle_timeout = idle_timeout
        self._inbox_prefix = inbox_prefix
        self._sub: JetStreamContext.PullSubscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._failures, self._last_kind = 0, ""  # fetches failed in a row, and how

    async def start(self) -> None:
        self._sub = await self._js.pull_subscribe_bind(
            self._durable,
            self._stream,
            inbox_prefix=self._inbox_prefix.encode() if self._inbox_prefix else None,
        )
        self._task = asyncio.create_task(self._run(), name=f"puller-{self._durable}")

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the fetch in flight and handle what it brings, then stop.

        Cancelling a fetch would leave its pull request open on the server: whatever it
        delivered would wait out ``ack_wait`` before going to the next hub.
        """
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self._idle_timeout + timeout)
        except TimeoutError:
            log.warning("stopping %s with a batch in hand; it will be redelivered", self._durable)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        if self._sub is not None:
            with contextlib.suppress(ConnectionClosedError):
                await self._sub.unsubscribe()
            self._sub = None

    async def _run(self) -> None:
        """Fetch while the handler works on the batch before, and hand it, in stream order,
        everything gathered meanwhile as soon as it is free: what arrived during one commit
        goes into the next (a group commit), and a lone message is handed over at once."""
        gathered: list[Msg] = []
        fetching: asyncio.Task[list[Msg]] | None = None
        handling: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        touched = loop.time()  # when what was gathered was last marked in progress
        try:
            while True:
                if handling is None and gathered:
                    handling = asyncio.create_task(self._handle(gathered))
                    gathered, touched = [], loop.time()
                room = self._batch_size - len(gathered)
                if fetching is None and room > 0 and not self._stopping.is_set():
                    fetching = asyncio.create_task(self._fetch(room, idle=handling is None))
                running = {task for task in (fetching, handling) if task is not None}
                if not running:
                    return
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                if gathered and loop.time() > touched + HELD_TOUCH:
                    # The handler is held (the ledger is away): keep what waits behind it from
                    # being redelivered to another hub meanwhile.
                    await _in_progress(gathered)
                    touched = loop.time()
                if handling in done:
                    handling = None
                if fetching is not None and fetching in done:
                    gathered += fetching.result()
                    fetching = None
        finally:
            # Cancelled (a stop that ran out of time): leave nothing running behind.
            for task in (fetching, handling):
                if task is not None and not task.done():
                    task.cancel()

    async def _fetch(self, room: int, *, idle: bool) -> list[Msg]:
        """The next messages, up to ``room``; none if nothing came or the fetch failed.

        With the handler idle, wait (up to ``idle_timeout``) for one message only: nats-py's
        fetch of a batch, once its first message has come, waits out its whole timeout for the
        rest, which would hold a lone message for that long. With the handler busy, take what
        the server has now, waiting at most ``GATHER_TIMEOUT`` for it.
        """
        assert self._sub is not None
        try:
            if idle:
                batch = await self._sub.fetch(1, timeout=self._idle_timeout)
            else:
                batch = await self._sub.fetch(room, timeout=GATHER_TIMEOUT)
        except TimeoutError:  # nats' and asyncio's alike: nothing arrived
            return []
        # What a fetch meets while a node is lost: no responders (503) or other statuses
        # (409 leadership change) from JetStream, a connection closed or reconnecting.
        # Anything else is retried too: a loop that died would stop the hub unnoticed.
        except Exception as exc:
            self._failures += 1
            # Once per kind of failure, not once a second for as long as a node is out.
            kind = _kind(exc)
            level = logging.WARNING if kind != self._last_kind else logging.DEBUG
            log.log(level, "fetch on %s failed (%s); retrying", self._durable, kind)
            self._last_kind = kind
            await self._pause(RETRY_DELAYS[min(self._failures, len(RETRY_DELAYS)) - 1])
            return []
        if self._failures:
            log.info("fetch on %s works again after %d failures", self._durable, self._failures)
            self._failures, self._last_kind = 0, ""
        return list(batch)

    async def _handle(self, batch: list[Msg]) -> None:
        try:
            await self._handler([JetStreamReceived(m) for m in batch])
        except Exception:
            log.exception("batch handler failed on %s", self._durable)

    async def _pause(self, seconds: float) -> None:
        """Back off, but wake at once when told to stop."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({stopping}, timeout=seconds)
        stopping.cancel()
