"""A stream's snapshot and its restore through JetStream's own API (``$JS.API.STREAM.SNAPSHOT``
and ``$JS.API.STREAM.RESTORE``), which nats-py does not wrap: the server streams the snapshot
in chunks to a subject of ours and paces itself on our acknowledgement of each chunk; a restore
is sent back to it in chunks, each acknowledged, ended by an empty message."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from bus.domain.errors import TransportError

CHUNK = 128 * 1024  # the server's own default chunk size
TIMEOUT = 30.0  # seconds without a word from the server before giving up


class SnapshotError(TransportError, RuntimeError):
    """The server refused or broke off a snapshot or a restore; the message says which."""


@dataclass(frozen=True)
class StreamState:
    """What the server said of the stream it snapshotted or restored."""

    config: dict[str, Any]
    state: dict[str, Any]

    @property
    def last_seq(self) -> int:
        return int(self.state.get("last_seq", 0))

    @property
    def messages(self) -> int:
        return int(self.state.get("messages", 0))

    @property
    def first_seq(self) -> int:
        return int(self.state.get("first_seq", 0))


async def _request(nc: Client, subject: str, payload: bytes, timeout: float, what: str) -> Msg:
    """A request to the server's API; no answer is said as such (most often: a server whose
    permissions predate snapshots, still running as it was started)."""
    try:
        return await nc.request(subject, payload, timeout=timeout)
    except (NatsError, TimeoutError) as exc:
        raise SnapshotError(
            f"{what}: no answer from the server on {subject} ({type(exc).__name__}); is the "
            "hub's user allowed it? A `mechbus up` started by an older mechbus must be "
            "restarted first"
        ) from None


def _answer(raw: bytes, what: str) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(raw)
    error = reply.get("error")
    if error:
        raise SnapshotError(f"{what}: {error.get('description', error)}")
    return reply


def _status(msg: Msg) -> str | None:
    """A status the server put in a chunk's headers instead of data (an error), if any."""
    headers = msg.headers or {}
    status = headers.get("Status")
    if status and status not in ("100", "204"):
        return f"{status} {headers.get('Description', '')}".strip()
    return None


async def snapshot(
    nc: Client,
    stream: str,
    write: Callable[[bytes], Awaitable[None] | None],
    *,
    consumers: bool = True,
    timeout: float = TIMEOUT,
) -> StreamState:
    """Take ``stream``'s snapshot (its messages, and ``consumers``' state), handing each chunk
    to ``write`` in order; what the server said of the stream at the moment it took it."""
    inbox = nc.new_inbox()
    chunks: asyncio.Queue[Msg] = asyncio.Queue()

    async def take(msg: Msg) -> None:
        await chunks.put(msg)

    sub = await nc.subscribe(inbox, cb=take)
    try:
        request = {"deliver_subject": inbox, "no_consumers": not consumers, "chunk_size": CHUNK}
        what = f"snapshot of stream {stream}"
        subject = f"$JS.API.STREAM.SNAPSHOT.{stream}"
        reply = await _request(nc, subject, json.dumps(request).encode(), timeout, what)
        said = _answer(reply.data, f"{what} refused")
        while True:
            try:
                msg = await asyncio.wait_for(chunks.get(), timeout)
            except TimeoutError:
                raise SnapshotError(
                    f"snapshot of stream {stream}: no chunk for {timeout:g} s"
                ) from None
            problem = _status(msg)
            if problem:
                raise SnapshotError(f"snapshot of stream {stream} broke off: {problem}")
            if not msg.data:  # the empty message that ends it
                break
            done = write(msg.data)
            if done is not None:
                await done
            if msg.reply:  # the server holds back more than its window until we ack
                await nc.publish(msg.reply, b"")
    finally:
        await sub.unsubscribe()
    return StreamState(said.get("config", {}), said.get("state", {}))


async def restore(
    nc: Client,
    stream: StreamState,
    chunks: AsyncIterator[bytes],
    *,
    timeout: float = TIMEOUT,
) -> StreamState:
    """Restore the stream ``stream`` describes from its snapshot's ``chunks`` (the server
    refuses if a stream of that name exists); what the server says of the restored stream."""
    name = stream.config["name"]
    request = {"config": stream.config, "state": stream.state}
    what = f"restore of stream {name}"
    subject = f"$JS.API.STREAM.RESTORE.{name}"
    reply = await _request(nc, subject, json.dumps(request).encode(), timeout, what)
    deliver = _answer(reply.data, f"{what} refused")["deliver_subject"]
    async for chunk in chunks:
        for start in range(0, len(chunk), CHUNK):
            ack = await _request(nc, deliver, chunk[start : start + CHUNK], timeout, what)
            if ack.data:  # an acknowledgement is empty; anything else is an error
                raise SnapshotError(
                    f"restore of stream {name}: {ack.data.decode(errors='replace')}"
                )
    # The empty message ends it; the server answers once the stream is rebuilt from the data.
    done = await _request(nc, deliver, b"", max(timeout, 120.0), what)
    info = _answer(done.data, f"restore of stream {name} failed")
    return StreamState(info.get("config", {}), info.get("state", {}))
