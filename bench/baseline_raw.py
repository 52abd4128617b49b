"""Baseline A, the physical limit: raw nats-py publishing with Nats-Msg-Id and PubAck, and a
durable pull consumer fetching batches and acking each message, doing nothing else."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from bench.bodies import STREAM, Body
from bench.timing import Publish, Tracker
from bus.domain import subjects
from bus.domain.streams import ConsumerSpec
from bus.runtime.jetstream import consumer_config

LABEL = "A  raw nats-py"
NOTE = (
    "A: nats-py js.publish with Nats-Msg-Id, awaiting the PubAck; a durable pull consumer with "
    "the hub's consumer settings, fetch 256, ack each; a message ends at its ack"
)
BATCH = 256  # as the hub fetches
IDLE = 0.5  # as the hub's puller waits


def raw_publisher(js: JetStreamContext, bodies: list[Body]) -> Publish:
    """The publisher of both baselines: the prebuilt bytes, the header mechbus would set."""

    async def publish(i: int) -> object:
        body = bodies[i]
        return await js.publish(
            body.subject, body.payload, stream=STREAM, headers={"Nats-Msg-Id": body.msg_id}
        )

    return publish


class RawConsumer:
    label = LABEL

    def __init__(self) -> None:
        self._nc: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def publisher(self, js: JetStreamContext, bodies: list[Body]) -> Publish:
        return raw_publisher(js, bodies)

    async def start(self, url: str, tracker: Tracker) -> None:
        self._nc = await nats.connect(url, name="bench-raw-consumer")
        js = self._nc.jetstream()
        # The hub's consumer settings (max_ack_pending, ack_wait), under another name.
        await js.add_consumer(STREAM, consumer_config(ConsumerSpec("raw", (subjects.ALL,))))
        sub = await js.pull_subscribe_bind("raw", STREAM)
        self._task = asyncio.create_task(self._consume(sub, tracker))

    async def _consume(self, sub: JetStreamContext.PullSubscription, tracker: Tracker) -> None:
        while not self._stopping:
            try:
                batch = await sub.fetch(BATCH, timeout=IDLE)
            except TimeoutError:  # nats-py's and asyncio's alike: nothing arrived
                continue
            for msg in batch:
                await msg.ack()
                tracker.finished(msg.headers["Nats-Msg-Id"].partition(":")[0])  # type: ignore[index]

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            await self._task  # the fetch in flight ends within IDLE
        if self._nc is not None:
            await self._nc.close()
