"""The bus's ports (bus.domain.ports) over nats-py and JetStream."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from bus.domain.ports import OnStream, Published, PublishError


class JetStreamTransport:
    """Publishes on one stream, each publish waiting for its PubAck, and reads it back.

    ``js`` may be a callable giving the context of a connection made later (the hub's, once
    its broker connects)."""

    def __init__(self, js: JetStreamContext | Callable[[], JetStreamContext], stream: str) -> None:
        self._js = js
        self.stream = stream

    @property
    def js(self) -> JetStreamContext:
        return self._js if isinstance(self._js, JetStreamContext) else self._js()

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        msg_id: str | None = None,
    ) -> Published:
        sent = dict(headers or {})
        if msg_id is not None:
            sent["Nats-Msg-Id"] = msg_id
        try:
            ack = await self.js.publish(subject, payload, stream=self.stream, headers=sent or None)
        except Exception as exc:
            raise PublishError(f"to {subject}: {exc}") from exc
        return Published(ack.stream, ack.seq, bool(ack.duplicate))

    async def stored(self, stream_seq: int) -> OnStream | None:
        try:
            raw = await self.js.get_msg(self.stream, stream_seq)
        except NotFoundError:
            return None
        return OnStream(raw.subject or "", raw.data or b"", raw.time)


class JetStreamReceived:
    """A message a pull consumer fetched (bus.domain.ports.Received)."""

    __slots__ = ("_msg",)

    def __init__(self, msg: Msg) -> None:
        self._msg = msg

    @property
    def msg(self) -> Msg:
        """The nats-py message underneath."""
        return self._msg

    @property
    def subject(self) -> str:
        return self._msg.subject

    @property
    def data(self) -> bytes:
        return self._msg.data

    @property
    def stream_seq(self) -> int:
        return self._msg.metadata.sequence.stream

    @property
    def attempt(self) -> int:
        return self._msg.metadata.num_delivered

    @property
    def stored_at(self) -> datetime:
        return self._msg.metadata.timestamp

    @property
    def headers(self) -> Mapping[str, str] | None:
        return self._msg.headers

    async def ack(self) -> None:
        await self._msg.ack()

    async def nak(self, delay: float | None = None) -> None:
        await self._msg.nak(delay=delay)

    async def in_progress(self) -> None:
        await self._msg.in_progress()


class KeyValueBoard:
    """The shelters' capacity bucket (bus.domain.ports.CapacityBoard)."""

    def __init__(self, bucket: KeyValue) -> None:
        self._bucket = bucket

    async def put(self, shelter: str, document: bytes) -> None:
        await self._bucket.put(shelter, document)
