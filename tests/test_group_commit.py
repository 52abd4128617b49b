"""The hub's puller on a real nats-server: a lone message is handed over at once, and what
arrives while a batch is being handled is handed over next as one batch, in stream order."""

from __future__ import annotations

import asyncio
import time

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain.ports import Received
from bus.runtime.puller import BatchPuller

pytestmark = pytest.mark.integration

IDLE = 5.0  # long: a lone message held until a fetch runs out would show


async def test_a_commit_gathers_what_arrives_during_it(nats_server: EmbeddedNatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="GC", subjects=["gc.>"]))
    await js.add_consumer("GC", ConsumerConfig(durable_name="hub", ack_policy=AckPolicy.EXPLICIT))
    batches: list[list[int]] = []
    handed = asyncio.Event()
    release = asyncio.Event()

    async def handle(batch: list[Received]) -> None:
        batches.append([int(m.data) for m in batch])
        handed.set()
        if len(batches) == 1:
            await release.wait()  # a slow commit: the next messages arrive meanwhile
        for m in batch:
            await m.ack()  # after the "commit", as the recorder does

    puller = BatchPuller(js, "GC", "hub", handle, idle_timeout=IDLE)
    await puller.start()
    try:
        sent = time.monotonic()
        await js.publish("gc.one", b"1")
        await asyncio.wait_for(handed.wait(), IDLE / 2)
        lone_ms = (time.monotonic() - sent) * 1000
        assert batches == [[1]]
        for i in range(2, 7):
            await js.publish("gc.one", str(i).encode())
        # All five delivered to the puller (fetched while the first is still being handled).
        deadline = time.monotonic() + 10
        while (await js.consumer_info("GC", "hub")).num_ack_pending < 6:
            assert time.monotonic() < deadline, "the puller fetched nothing during the commit"
            await asyncio.sleep(0.01)
        release.set()
        deadline = time.monotonic() + 10
        while (await js.consumer_info("GC", "hub")).num_ack_pending:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        # In stream order, the five in one batch, or two when the last of them were still in a
        # fetch under way as the commit ended (delivered, not yet in the puller's hands): never
        # one commit each.
        assert [n for batch in batches for n in batch] == [1, 2, 3, 4, 5, 6]
        assert batches[0] == [1] and len(batches) <= 3, batches
    finally:
        await puller.stop()
        await nc.close()
    assert lone_ms < IDLE * 1000 / 2  # handed over without waiting for more


async def test_a_stop_hands_over_what_was_gathered(nats_server: EmbeddedNatsServer) -> None:
    """Stopping while a batch is handled: what was fetched behind it is handled too, not left
    for ack_wait to redeliver."""
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="GC", subjects=["gc.>"]))
    await js.add_consumer("GC", ConsumerConfig(durable_name="hub", ack_policy=AckPolicy.EXPLICIT))
    seen: list[int] = []
    first = asyncio.Event()
    release = asyncio.Event()

    async def handle(batch: list[Received]) -> None:
        seen.extend(int(m.data) for m in batch)
        first.set()
        await release.wait()
        for m in batch:
            await m.ack()

    puller = BatchPuller(js, "GC", "hub", handle, idle_timeout=0.5)
    await puller.start()
    try:
        await js.publish("gc.one", b"1")
        await asyncio.wait_for(first.wait(), 5)
        for i in range(2, 5):
            await js.publish("gc.one", str(i).encode())
        deadline = time.monotonic() + 10
        while (await js.consumer_info("GC", "hub")).num_ack_pending < 4:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        stopping = asyncio.create_task(puller.stop())
        release.set()
        await asyncio.wait_for(stopping, 10)
        assert seen == [1, 2, 3, 4]
        assert (await js.consumer_info("GC", "hub")).num_ack_pending == 0
    finally:
        await puller.stop()
        await nc.close()
