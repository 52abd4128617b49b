"""Bad input of every kind, published as raw bytes onto a real nats-server with the hub running,
on SQLite and PostgreSQL: each is classified at its first delivery, kept as a dead letter with
a notice to its sender, and the stream's messages all add up, live and replayed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from sqlalchemy import create_engine, text
from sqlmodel import select

from adapters.ledger.replay import compare, replay
from adapters.ledger.store import SqlLedger, sqlite_url
from adapters.ledger.tables import DeadLetterRow, MessageRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain.streams import HUB_DURABLE, StreamSpec
from bus.runtime import jetstream
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from schemas.envelope import new_message_id
from schemas.tracking import Rejected, RejectionReason
from tests import builders as b
from tests.bad_inputs import INBOX, MECHANISM, OUTBOX, BadInput, catalogue, valid_acknowledgement
from tests.conftest import PG_URL
from tests.ledgers import upgraded_ledger

pytestmark = pytest.mark.integration

STREAM = StreamSpec().name
REJECTED = "mech.tracking.rejected.v1"
IN_FLIGHT = 256  # raw publishes awaiting their PubAck at once


@dataclass
class Published:
    """What the test put on the stream, to check the ledger against."""

    requests: int = 0
    valid_answers: int = 0
    bad_inputs: list[BadInput] = field(default_factory=list)


@pytest.fixture
async def raw(nats_server: EmbeddedNatsServer) -> AsyncIterator[Client]:
    """A plain nats-py connection: it publishes whatever bytes a sender could."""
    nc = await nats.connect(nats_server.url)
    yield nc
    await nc.drain()


async def _open_requests(url: str, hub: Hub, count: int) -> list[str]:
    async with await AgencyClient.connect(url, MECHANISM) as mechanism:
        ids = []
        for i in range(count):
            request = b.patrol_request(id=new_message_id(), subject=f"MPDDHP-2026-{i:04d}")
            await mechanism.send(request)
            ids.append(request.id)
    await hub.wait_until(lambda: hub.recorded >= count, timeout=30)
    return ids


async def _publish_all(nc: Client, items: list[tuple[str, bytes]]) -> list[int]:
    """Publish every (subject, body), many at once; returns their stream sequences, in order."""
    js = nc.jetstream()
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(subject: str, body: bytes) -> int:
        async with gate:
            return (await js.publish(subject, body, stream=STREAM)).seq

    return await asyncio.gather(*(one(subject, body) for subject, body in items))


async def _settled(nc: Client, ledger: SqlLedger, deadline: float) -> int:
    """Poll until every stream sequence is in the ledger and the hub owes nothing; returns
    the last stream sequence. Fails at ``deadline`` (time.monotonic)."""
    js = nc.jetstream()
    while True:
        last = (await js.stream_info(STREAM)).state.last_seq
        consumer = await js.consumer_info(STREAM, HUB_DURABLE)
        kept = await asyncio.to_thread(_kept_count, ledger)
        idle = consumer.num_pending == 0 and consumer.num_ack_pending == 0
        if idle and kept == last:
            return last
        assert time.monotonic() < deadline, (
            f"not settled: stream {last}, ledger {kept}, pending {consumer.num_pending}, "
            f"unacknowledged {consumer.num_ack_pending}, redelivered {consumer.num_redelivered}"
        )
        await asyncio.sleep(0.2)


def _kept_count(ledger: SqlLedger) -> int:
    return ledger.count(MessageRow) + ledger.count(DeadLetterRow)


def _ledger_rows(ledger: SqlLedger) -> tuple[list[MessageRow], list[DeadLetterRow]]:
    with ledger.session() as s:
        return list(s.exec(select(MessageRow)).all()), list(s.exec(select(DeadLetterRow)).all())


async def _check_accounts(nc: Client, ledger: SqlLedger, sent: Published, last_seq: int) -> None:
    messages, dead = _ledger_rows(ledger)
    # Every sequence the stream accepted is in exactly one of the two tables.
    seqs = [m.stream_seq for m in messages] + [d.stream_seq for d in dead]
    assert sorted(seqs) == list(range(1, last_seq + 1))
    # No bad input cost a retry, and none was mistaken for a fault of the ledger.
    consumer = await nc.jetstream().consumer_info(STREAM, HUB_DURABLE)
    assert consumer.num_redelivered == 0
    assert not [d for d in dead if d.reason == RejectionReason.UNDELIVERABLE]
    assert Counter(d.reason for d in dead) == Counter(x.reason.value for x in sent.bad_inputs)
    # Every sender that can be named was told, and its notice is on the stream (recorded).
    assert Counter(d.sender for d in dead) == Counter(x.told for x in sent.bad_inputs)
    notices = {m.message_id: m for m in messages if m.type == REJECTED}
    for letter in dead:
        if letter.sender is None:
            assert letter.notice is None
            continue
        assert letter.notice is not None
        notice = Rejected.model_validate_json(letter.notice)
        assert notice.recipients == (letter.sender,)
        assert notice.data.reason.value == letter.reason
        assert notices[notice.id].nats_subject == f"mech.v1.to.{letter.sender}.rejected"
    told = sum(1 for x in sent.bad_inputs if x.told)
    assert len(messages) == sent.requests + sent.valid_answers + told
    assert len(dead) == len(sent.bad_inputs)


async def test_every_kind_of_bad_input_is_refused_at_its_first_delivery(
    nats_server: EmbeddedNatsServer, hub: Hub, ledger: SqlLedger, raw: Client
) -> None:
    [request_id] = await _open_requests(nats_server.url, hub, 1)
    bad = catalogue(request_id)
    assert len({x.kind for x in bad}) >= 30
    seqs = await _publish_all(raw, [(x.subject, x.body) for x in bad])
    last_seq = await _settled(raw, ledger, time.monotonic() + 20)

    await _check_accounts(raw, ledger, Published(requests=1, bad_inputs=bad), last_seq)
    _, dead = _ledger_rows(ledger)
    kept = {d.stream_seq: d for d in dead}
    wrong = [
        (x.kind, kept[seq].reason, kept[seq].sender)
        for seq, x in zip(seqs, bad, strict=True)
        if (kept[seq].reason, kept[seq].sender) != (x.reason.value, x.told)
    ]
    assert wrong == []


async def test_a_flood_of_bad_input_among_valid_traffic_adds_up_and_replays(
    nats_server: EmbeddedNatsServer,
    hub: Hub,
    ledger: SqlLedger,
    ledger_url: str,
    raw: Client,
    tmp_path: Path,
    figures: Callable[[str], None],
) -> None:
    copies = 60
    request_ids = await _open_requests(nats_server.url, hub, copies)
    sent = Published(requests=copies, valid_answers=copies)
    items: list[tuple[str, bytes]] = []
    for request_id in request_ids:
        batch = catalogue(request_id)
        sent.bad_inputs.extend(batch)
        items.extend((x.subject, x.body) for x in batch)
        items.append((OUTBOX, valid_acknowledgement(request_id)))
    kinds = len({x.kind for x in sent.bad_inputs})

    started = time.monotonic()
    await _publish_all(raw, items)
    published = time.monotonic() - started
    last_seq = await _settled(raw, ledger, started + 60)
    settled = time.monotonic() - started
    await _check_accounts(raw, ledger, sent, last_seq)
    with _empty_ledger(ledger_url, tmp_path, ledger) as rebuilt:
        replay_started = time.monotonic()
        report = await replay(raw.jetstream(), rebuilt)
        replayed = time.monotonic() - replay_started
        assert report.read == last_seq
        assert report.results["dead_letter"] == len(sent.bad_inputs)
        assert compare(ledger, rebuilt) == []
    backend = ledger_url.split(":", 1)[0]
    figures(
        f"{backend}: {len(items)} published ({len(sent.bad_inputs)} bad of {kinds} kinds, "
        f"{copies} valid acknowledgements) after {copies} requests; stream {last_seq} "
        f"messages; published in {published:.1f}s, all kept in {settled:.1f}s; "
        f"replayed into an empty ledger in {replayed:.1f}s"
    )


async def test_extra_subject_tokens_are_refused_and_the_sender_told(
    nats_server: EmbeddedNatsServer, hub: Hub
) -> None:
    url = nats_server.url
    async with (
        await AgencyClient.connect(url, MECHANISM) as mechanism,
        await AgencyClient.connect(url, "gro.government") as guerrero,
    ):
        request = b.patrol_request()
        await mechanism.send(request)
        ack = valid_acknowledgement(request.id)
        await guerrero.js.publish(f"{OUTBOX}.x.y", ack, stream=STREAM)
        notice = await guerrero.next_notice(timeout=10)
        assert isinstance(notice, Rejected)
        assert notice.data.reason is RejectionReason.WRONG_SUBJECT
        assert notice.data.rejected_subject == f"{OUTBOX}.x.y"
        assert notice.data.stream_sequence is not None

        # Only federal users may write to an inbox: the Mechanism hears of a bad one.
        await mechanism.js.publish(f"{INBOX}.x", request.to_json(), stream=STREAM)
        notice = await mechanism.next_notice(timeout=10)
        assert isinstance(notice, Rejected)
        assert notice.data.reason is RejectionReason.WRONG_SUBJECT
        assert notice.data.rejected_subject == f"{INBOX}.x"


async def test_a_subject_that_is_not_utf8_is_refused_and_the_hub_goes_on(
    nats_server: EmbeddedNatsServer,
    hub: Hub,
    ledger: SqlLedger,
    ledger_url: str,
    raw: Client,
    tmp_path: Path,
) -> None:
    [request_id] = await _open_requests(nats_server.url, hub, 1)
    # nats-py sends only UTF-8 subjects, but the server stores any bytes: speak the protocol.
    host, port = nats_server.url.removeprefix("nats://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    await reader.readline()  # INFO
    body = valid_acknowledgement(request_id)
    subject = OUTBOX.encode() + b"\xff\xfe"
    writer.write(b'CONNECT {"verbose": false}\r\n')
    writer.write(b"PUB %s %d\r\n%s\r\nPING\r\n" % (subject, len(body), body))
    await writer.drain()
    assert (await reader.readline()).startswith(b"PONG")  # the server has it
    writer.close()
    await raw.jetstream().publish(OUTBOX, valid_acknowledgement(request_id), stream=STREAM)

    last_seq = await _settled(raw, ledger, time.monotonic() + 20)
    messages, [letter] = _ledger_rows(ledger)
    assert (letter.reason, letter.sender) == ("wrong_subject", "gro.government")
    assert letter.nats_subject == OUTBOX + "\ufffd\ufffd"
    assert "U+DCFF" in letter.detail and letter.notice is not None
    recorded = Counter(m.type for m in messages)
    assert recorded["mech.response.acknowledgement.v1"] == 1 and recorded[REJECTED] == 1
    assert last_seq == len(messages) + 1

    # `mechbus replay` reads it through the same kind of connection, and agrees.
    nc = await jetstream.connect(nats_server.url, name="replay")
    try:
        with _empty_ledger(ledger_url, tmp_path, ledger) as rebuilt:
            report = await replay(nc.jetstream(), rebuilt)
            assert report.read == last_seq and compare(ledger, rebuilt) == []
    finally:
        await nc.drain()


@contextmanager
def _empty_ledger(url: str, tmp_path: Path, live: SqlLedger) -> Iterator[SqlLedger]:
    """A second, empty ledger on the live one's backend (sealed with its key), for a replay."""
    schema = None
    if url.startswith("sqlite"):
        target = sqlite_url(tmp_path / "rebuilt.db")
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        _pg(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in PG_URL else "?"
        target = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    rebuilt = upgraded_ledger(target, sealer=live.sealer)
    try:
        yield rebuilt
    finally:
        rebuilt.close()
        if schema is not None:
            _pg(f"DROP SCHEMA {schema} CASCADE")


def _pg(statement: str) -> None:
    engine = create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()
