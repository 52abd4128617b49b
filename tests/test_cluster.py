"""A three-node JetStream cluster with R3 streams: the node leading the hub's consumer is
SIGKILLed mid-traffic and restarted; nothing is lost or doubled. Counts are printed."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.js.errors import APIError, ServiceUnavailableError
from sqlmodel import func, select

from adapters.ledger.store import sqlite_url
from adapters.ledger.tables import MessageRow
from adapters.natsserver.cluster import EmbeddedNatsCluster
from bus.domain.streams import CAPACITY_BUCKET, StreamSpec, hub_consumer
from bus.runtime import jetstream
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from bus.runtime.puller import BatchPuller
from schemas.envelope import Envelope
from tests import builders as b
from tests.cli_processes import SEND_PATROL, launch, run, wait_until_gone
from tests.ledgers import upgraded_ledger

REQUESTS = 1000
R3 = StreamSpec(replicas=3)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[EmbeddedNatsCluster]:
    with EmbeddedNatsCluster(tmp_path / "cluster") as nodes:
        yield nodes


@pytest.fixture
async def client(cluster: EmbeddedNatsCluster) -> AsyncIterator[Client]:
    nc = await jetstream.connect(cluster.urls, name="test")
    yield nc
    await nc.close()


async def until(check: Any, timeout: float, what: str) -> Any:
    """Poll an async ``check`` until it returns something truthy, with a deadline."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)  # cluster state, not ours: nothing to wait on but polling
    return result


def names(cluster: EmbeddedNatsCluster) -> set[str]:
    return {node.server_name for node in cluster.nodes}


@pytest.mark.integration
async def test_cluster_streams_consumers_and_bucket_have_three_replicas(
    cluster: EmbeddedNatsCluster, client: Client
) -> None:
    js = client.jetstream()
    assert len(cluster.urls) == 3 and cluster.meta_leader() in names(cluster)
    # Made R1 first, as a single-server deployment would have them, then scaled to R3.
    await jetstream.ensure_stream(js, StreamSpec())
    await jetstream.ensure_consumer(js, StreamSpec(), hub_consumer())
    await jetstream.ensure_capacity_bucket(js, StreamSpec())
    stream = await jetstream.ensure_stream(js, R3)
    consumer = await jetstream.ensure_consumer(js, R3, hub_consumer())
    await jetstream.ensure_capacity_bucket(js, R3)
    bucket = await js.stream_info(f"KV_{CAPACITY_BUCKET}")
    for info in (stream, consumer, bucket):
        assert info.config.num_replicas == 3
        assert info.cluster is not None and info.cluster.leader in names(cluster)
        peers = {peer.name for peer in info.cluster.replicas or []}
        assert peers | {info.cluster.leader} == names(cluster)


class FlakySubscription:
    """A pull subscription whose fetches fail the way they do during a leader election, then
    bring one batch, then find nothing more."""

    def __init__(self, batch: list[Any]) -> None:
        self.errors: list[Exception] = [
            NoRespondersError(),
            ServiceUnavailableError(),
            APIError(code=409, description="Leadership Change"),
            ConnectionClosedError(),
            OSError("connection reset"),
        ]
        self.batch = batch

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        if self.errors:
            raise self.errors.pop(0)
        if self.batch:
            batch_, self.batch = self.batch, []
            return batch_
        # an idle server: the fetch runs out its time and times out
        return await asyncio.wait_for(asyncio.Event().wait(), timeout)  # type: ignore[return-value]

    async def unsubscribe(self) -> None:
        pass


class FakeJetStream:
    def __init__(self, sub: FlakySubscription) -> None:
        self.sub = sub

    async def pull_subscribe_bind(self, *args: Any, **kwargs: Any) -> FlakySubscription:
        return self.sub


async def test_puller_keeps_fetching_through_election_errors() -> None:
    handled: asyncio.Queue[list[Any]] = asyncio.Queue()
    sub = FlakySubscription(["message"])
    puller = BatchPuller(FakeJetStream(sub), "S", "d", handled.put, idle_timeout=0.1)  # type: ignore[arg-type]
    await puller.start()
    batch = await asyncio.wait_for(handled.get(), 10)
    assert [received.msg for received in batch] == ["message"]
    await puller.stop()
    assert not sub.errors


async def send_until_acked(mechanism: AgencyClient, request: Envelope, retries: list[str]) -> None:
    """Publish, and on failure publish the same message (same id) again until acked: JetStream's
    duplicate window, then the ledger, collapse whatever got through twice."""
    deadline = time.monotonic() + 60
    while True:
        try:
            await mechanism.send(request)
            return
        except jetstream.PublishError:
            if time.monotonic() > deadline:
                raise
            retries.append(request.id)
            # no stream leader yet: polling the publish, with the deadline above
            await asyncio.sleep(0.05)


@pytest.mark.integration
@pytest.mark.timeout(300)
async def test_consumer_leader_killed_mid_traffic_loses_and_doubles_nothing(
    cluster: EmbeddedNatsCluster, client: Client, tmp_path: Path, figures: Callable[[str], None]
) -> None:
    started = time.monotonic()
    ledger = upgraded_ledger(sqlite_url(tmp_path / "ledger.db"))
    hub = Hub(ledger, cluster.urls, stream=R3, checkpoint_interval=0)
    await hub.start()
    js = client.jetstream()
    sent: list[str] = []
    retries: list[str] = []
    try:
        async with await AgencyClient.connect(cluster.urls, "fed.mechanism") as mechanism:
            for i in range(REQUESTS):
                if i == REQUESTS // 3:
                    # The hub is busy too: mid-batch, mid-transaction, acks in flight.
                    await hub.wait_until(lambda: ledger.count(MessageRow) >= REQUESTS // 6, 30)
                    info = await js.consumer_info(R3.name, hub_consumer().durable)
                    assert info.cluster is not None and info.cluster.leader
                    victim = cluster.index_of(info.cluster.leader)
                    stream_info = await js.stream_info(R3.name)
                    assert stream_info.cluster is not None
                    print(
                        f"at {i} sent: SIGKILL {info.cluster.leader}, leader of the hub's "
                        f"consumer (stream leader {stream_info.cluster.leader}, meta leader "
                        f"{cluster.meta_leader()})"
                    )
                    cluster.kill(victim)
                if i == 2 * REQUESTS // 3:
                    node = cluster.nodes[victim]
                    # Launched from this thread (its parent-death signal follows the thread
                    # that launched it); only the health polling runs in a worker.
                    node.launch()
                    print(f"at {i} sent: restarting {node.server_name}")
                    rejoined = asyncio.ensure_future(
                        asyncio.to_thread(node.wait_ready, time.monotonic() + 60)
                    )
                request = b.patrol_request()
                await send_until_acked(mechanism, request, retries)
                sent.append(request.id)
            await rejoined
        published = time.monotonic()
        await hub.wait_until(lambda: ledger.count(MessageRow) >= REQUESTS, 120)
        all_recorded = time.monotonic()

        async def resumed() -> bool:
            consumer = await js.consumer_info(R3.name, hub_consumer().durable)
            stream = await js.stream_info(R3.name)
            # Acks lost with the old leader come back after ack_wait and are acked again.
            return (
                consumer.num_ack_pending == 0
                and consumer.ack_floor.stream_seq == stream.state.last_seq
            )

        await until(resumed, 120, "the hub's consumer to ack everything")
        consumer = await js.consumer_info(R3.name, hub_consumer().durable)
        stream = await js.stream_info(R3.name)
    finally:
        await hub.stop()
    with ledger.session() as s:
        recorded = list(s.exec(select(MessageRow.message_id)))
        distinct = s.exec(select(func.count(func.distinct(MessageRow.message_id)))).one()
    lost = set(sent) - set(recorded)
    figures(
        f"sent {len(sent)}, recorded {len(recorded)}, duplicates {len(recorded) - distinct}, "
        f"lost {len(lost)}; publish retries {len(retries)}, stream messages "
        f"{stream.state.messages}, consumer leader now {consumer.cluster.leader}, "  # type: ignore[union-attr]
        f"{time.monotonic() - started:.1f}s"
    )
    print(
        f"published in {published - started:.1f}s, all recorded {all_recorded - published:.1f}s "
        f"later, every ack in {time.monotonic() - all_recorded:.1f}s after that"
    )
    assert len(sent) == REQUESTS == len(set(sent))
    assert len(recorded) == REQUESTS and distinct == REQUESTS
    assert not lost
    assert consumer.ack_floor.stream_seq == stream.state.last_seq
    ledger.close()


@pytest.mark.e2e
async def test_mechbus_up_cluster_records_on_an_r3_stream_with_credentials(tmp_path: Path) -> None:
    """``mechbus up --cluster``: three nodes requiring credentials, the hub on all three."""
    home = tmp_path / "home"
    proc = launch(["up", "--cluster", "--sweep-interval", "600"], home)
    assert proc.stdout is not None
    urls = []
    for line in proc.stdout:
        if line.startswith("nats-server mechbus-"):
            urls.append(line.split()[2])
        if "hub up on" in line:
            break
    else:
        pytest.fail("mechbus up --cluster did not start")
    try:
        assert len(urls) == 3
        assert (home / "nats.url").read_text() == ",".join(urls)
        sent = run([*SEND_PATROL, "--instructions", "Rondines."], home)  # via the URL file
        assert sent.returncode == 0, sent.stdout + sent.stderr
        hub = await jetstream.connect(
            urls, name="test", agency="fed.hub", nkeys_seed=str(home / "creds" / "fed.hub.nk")
        )
        try:
            js = hub.jetstream()
            stream = await js.stream_info(R3.name)
            consumer = await js.consumer_info(R3.name, hub_consumer().durable)

            async def acked() -> bool:
                info = await js.consumer_info(R3.name, hub_consumer().durable)
                return info.ack_floor.stream_seq >= 1

            await until(acked, 30, "the hub to record the request")
        finally:
            await hub.close()
        assert stream.config.num_replicas == 3 and consumer.config.num_replicas == 3
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    wait_until_gone(str(home))
