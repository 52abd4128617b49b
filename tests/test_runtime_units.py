"""The hub's loops against in-memory ports (tests.fakes): recording a batch, settling it, the
sweeper's pass, the outbox relay and the undeliverable keeper, with no server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from adapters.ledger.outbox import Outbox
from adapters.ledger.store import sqlite_url
from bus.domain import subjects
from bus.domain.copies import recipient_copies
from bus.domain.ladder import Obligation
from bus.domain.msgids import CopyIds
from bus.domain.policy import Clock, Policy
from bus.domain.ports import OnStream
from bus.domain.recording import Outcome
from bus.domain.rules import Rules
from bus.runtime.broker import hub_options
from bus.runtime.connection import ConnectionOptions
from bus.runtime.recorder import Recorder
from bus.runtime.sweeper import Sweeper
from bus.runtime.undeliverable import Failures, UndeliverableKeeper
from schemas.messages import parse_message
from tests import builders as b
from tests.fakes import FakeClock, FakeReceived, FixedObligations, MemoryBus, MemoryLedger
from tests.ledgers import upgraded_ledger
from tests.test_recording import Stream as RecordingStream

COPY_IDS = CopyIds(b"k" * CopyIds.KEY_BYTES)
POLICY = Policy.load()
LONG_AGO = b.T0 - timedelta(hours=1)  # stored long enough ago that nothing may wait


class Stream(RecordingStream):
    """Deliveries with stream sequences as JetStream would hand them out, to be settled."""

    def receive(self, message: object, subject: str | None = None) -> FakeReceived:
        d = self.deliver(message, subject)
        return FakeReceived(d.subject, d.data, d.stream_seq, stored_at=LONG_AGO)


def recorder(ledger: MemoryLedger, bus: MemoryBus, **options: object) -> Recorder:
    clock = FakeClock(b.T0 + timedelta(minutes=1))
    return Recorder(
        ledger,
        bus,
        rules=Rules(b.REGISTRY, POLICY),
        clock=clock,
        copy_ids=COPY_IDS,
        wall=clock,
        **options,  # type: ignore[arg-type]
    )


async def test_a_batch_is_recorded_in_one_commit_then_acknowledged() -> None:
    ledger, bus, stream = MemoryLedger(), MemoryBus(), Stream()
    request = b.patrol_request()
    receipt = b.receipt(request.id)
    batch = [stream.receive(request), stream.receive(receipt)]
    hub = recorder(ledger, bus)
    await hub.on_batch(batch)  # type: ignore[arg-type]
    assert [m.settled for m in batch] == [["ack"], ["ack"]]
    assert ledger.commits == 1 and hub.recorded == 2
    assert set(ledger.state.messages) == {
        ("fed.mechanism", request.id),
        ("gro.government", receipt.id),
    }
    assert bus.sent == []  # nothing to tell anyone


async def test_bad_input_becomes_a_dead_letter_and_its_sender_is_told() -> None:
    ledger, bus, stream = MemoryLedger(), MemoryBus(), Stream()
    request = b.patrol_request()
    outbox_subject = subjects.routes(b.receipt(request.id), b.REGISTRY)[0][0]
    garbage = stream.receive(b"{not json", subject=outbox_subject)
    hub = recorder(ledger, bus)
    await hub.on_batch([garbage])  # type: ignore[list-item]
    assert garbage.settled == ["ack"] and hub.dead_letters == 1
    [kept] = ledger.state.dead_letters
    [notice] = bus.sent
    assert notice.subject.startswith("mech.v1.to.gro.government.")
    # the federal notice's copy carries the deployment's msg id, as its copy key gives it
    rejected = parse_message(notice.payload)
    [copy] = recipient_copies(rejected, b.REGISTRY)
    assert notice.msg_id == COPY_IDS.header(copy.copy_key or "", copy.payload)
    assert kept.notice == notice.payload


async def test_a_ledger_that_is_down_holds_the_batch_in_progress_then_records_it() -> None:
    ledger, bus, stream = MemoryLedger(), MemoryBus(), Stream()
    ledger.unavailable = 1
    delivery = stream.receive(b.patrol_request())
    hub = recorder(ledger, bus)
    await hub.on_batch([delivery])  # type: ignore[list-item]
    assert delivery.settled == ["progress", "ack"]
    assert ledger.commits == 1
    # a ledger that is down never counts against the message
    assert hub.failures.last(delivery.stream_seq).startswith("not seen")


async def test_a_batch_that_fails_is_retried_one_by_one_and_given_back_with_a_delay() -> None:
    ledger, bus, stream = MemoryLedger(), MemoryBus(), Stream()
    ledger.broken = RuntimeError("a bug this message triggers\nwith a second line")
    batch = [stream.receive(b.patrol_request()), stream.receive(b.patrol_request())]
    batch[1].attempt = 3
    hub = recorder(ledger, bus)
    await hub.on_batch(batch)  # type: ignore[arg-type]
    assert [m.settled for m in batch] == [["nak 0.5"], ["nak 2.0"]]
    assert hub.failures.last(batch[0].stream_seq) == "RuntimeError: a bug this message triggers"


async def test_a_response_before_its_request_is_deferred_while_young() -> None:
    ledger, bus, stream = MemoryLedger(), MemoryBus(), Stream()
    early = stream.receive(b.receipt("req-not-yet-seen-0001"))
    early.stored_at = b.T0 + timedelta(minutes=1)  # just now: its request may be on its way
    hub = recorder(ledger, bus, defer_unknown_for=1.0)
    await hub.on_batch([early])  # type: ignore[list-item]
    assert early.settled == ["nak 0.25"] and ledger.state.messages == {}


async def test_a_sweep_publishes_each_due_rung_once() -> None:
    overdue = Obligation(
        "req-00000001", "tam.government", Clock.ACKNOWLEDGEMENT, b.T0, b.T0 + timedelta(hours=1)
    )
    source, bus = FixedObligations([overdue]), MemoryBus()
    clock = FakeClock(b.T0 + timedelta(hours=1, minutes=6))
    sweeper = Sweeper(source, bus, policy=POLICY, clock=clock, copy_ids=COPY_IDS)
    [reminder] = await sweeper.sweep_once()
    assert [parse_message(s.payload).id for s in bus.sent] == [reminder.id]
    assert all(s.msg_id is not None for s in bus.sent)
    # sent again (a crash before the ledger recorded it): the same copy, a duplicate
    assert [m.id for m in await sweeper.sweep_once()] == [reminder.id]
    assert len(bus.sent) == 1
    source.answered.add("req-00000001")
    assert await sweeper.sweep_once() == []


async def test_the_outbox_relay_keeps_order_and_stops_at_the_first_failure(
    tmp_path: Path,
) -> None:
    ledger = upgraded_ledger(sqlite_url(tmp_path / "ledger.db"))
    try:
        outbox, bus = Outbox(ledger), MemoryBus()
        first, second = b.patrol_request(), b.patrol_request(to="ver.government")
        assert outbox.put(first) and outbox.put(second)
        bus.refuse = 1
        assert await outbox.relay(bus, copy_ids=COPY_IDS) == 0
        assert [(w.message_id, w.attempts) for w in outbox.waiting()] == [
            (first.id, 1),
            (second.id, 0),
        ]
        assert await outbox.relay(bus, copy_ids=COPY_IDS) == 2
        assert [parse_message(s.payload).id for s in bus.sent] == [first.id, second.id]
        assert outbox.waiting() == [] and await outbox.relay(bus) == 0
    finally:
        ledger.close()


async def test_the_keeper_keeps_what_the_hub_gave_up_on_and_tells_the_sender() -> None:
    ledger, bus = MemoryLedger(), MemoryBus()
    request = b.patrol_request()
    subject = subjects.routes(b.receipt(request.id), b.REGISTRY)[0][0]
    bus.stored_messages[7] = OnStream(subject, b"{poison", b.T0)
    failures = Failures()
    failures.note(7, ValueError("could not record"))
    committed: list[list[Outcome]] = []

    async def after_commit(outcomes: list[Outcome]) -> None:
        committed.append(outcomes)

    keeper = UndeliverableKeeper(bus, ledger, failures, after_commit, b.REGISTRY)
    named = json.dumps({"stream_seq": 7, "deliveries": 3}).encode()
    gone = json.dumps({"stream_seq": 8, "deliveries": 3}).encode()
    advisories = [
        FakeReceived("$JS.EVENT.ADVISORY", named, 1, b.T0),
        FakeReceived("$JS.EVENT.ADVISORY", gone, 2, b.T0),
        FakeReceived("$JS.EVENT.ADVISORY", b"?", 3, b.T0),
    ]
    await keeper.on_batch(advisories)  # type: ignore[arg-type]
    assert [a.settled for a in advisories] == [["ack"]] * 3
    [kept] = ledger.state.dead_letters
    assert kept.stream_seq == 7 and kept.reason == "undeliverable"
    assert "ValueError: could not record" in kept.detail
    assert len(committed) == 1

    ledger.unavailable = 1
    again = FakeReceived("$JS.EVENT.ADVISORY", named, 4, b.T0)
    await keeper.on_batch([again])  # type: ignore[list-item]
    assert again.settled == ["nak 5.0"]


def test_one_set_of_connection_options_for_nats_py_and_faststream(tmp_path: Path) -> None:
    seed = tmp_path / "gro.government.nk"
    agency = ConnectionOptions.of(
        "nats://a:4222,nats://b:4222", name="mechbus-gro", agency="gro.government", creds=seed
    )
    assert agency.for_nats() == {
        "servers": ["nats://a:4222", "nats://b:4222"],
        "name": "mechbus-gro",
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 5,
        "inbox_prefix": "_INBOX.gro.government",
        "nkeys_seed": str(seed),
    }
    # what the hub's broker always had: FastStream's own name and connect timeout
    assert hub_options(["nats://a:4222"]).for_faststream() == {
        "servers": ["nats://a:4222"],
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 1,
        "inbox_prefix": b"_INBOX.fed.hub",
    }
    # a caller's own nats-py options win, as they always did
    assert (
        ConnectionOptions.of("nats://a:4222", max_reconnect_attempts=2).for_nats()[
            "max_reconnect_attempts"
        ]
        == 2
    )
