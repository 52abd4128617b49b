"""Ids belong to their sender: no agency can make another sender's message a duplicate, and
every message the stream accepted ends in the ledger (recorded once, or accounted for as a
copy or resend of what was recorded) or as a dead letter with a notice.

Driven from outside: a secured nats-server configured from the registry, the hub as `mechbus
up` runs it, and agencies as raw nats-py clients with their own nkey credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from sqlmodel import func, select

from adapters.ledger.obligations import SqlObligations
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import (
    DeadLetterRow,
    EscalationRow,
    MessageCopyRow,
    MessageRow,
    RecipientRow,
)
from adapters.natsserver.credentials import CredentialStore
from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain import subjects
from bus.domain.ladder import rung_message, rungs_due
from bus.domain.msgids import CopyIds, receipt_id
from bus.domain.policy import Policy
from bus.domain.streams import agency_consumer
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from bus.runtime.sweeper import Sweeper
from schemas.envelope import Envelope
from schemas.registry import active_registry
from tests import builders as b
from tests.ledger_reads import credentials, recipient, recipient_status

A, B = "ver.government", "gro.government"  # A attacks, B is the agency it tries to silence
AGENCIES = ("fed.mechanism", "fed.board", A, B)
H = timedelta(hours=1)
COPY_IDS = CopyIds(b"the deployment key of this test.")  # shared by the hub and the Mechanism


class Clock:
    def __init__(self) -> None:
        self.now = b.T0

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return credentials(tmp_path / "creds", AGENCIES)


@pytest.fixture
def server(tmp_path: Path, store: CredentialStore) -> Iterator[EmbeddedNatsServer]:
    with EmbeddedNatsServer(tmp_path / "nats", extra_config=store.server_config()) as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def hub(
    server: EmbeddedNatsServer, store: CredentialStore, ledger: SqlLedger, clock: Clock
) -> AsyncIterator[Hub]:
    hub = Hub(
        ledger,
        server.url,
        creds=store.seed_path("fed.hub"),
        provision=AGENCIES,
        clock=clock,
        copy_ids=COPY_IDS,
        defer_unknown_for=0.3,
    )
    await hub.start()
    yield hub
    await hub.stop()


class RawAgency:
    """An agency written from the contract alone: nats-py, its own seed, its own consumer."""

    def __init__(self, agency: str, nc: Client, sub: Any) -> None:
        self.agency, self.nc, self.sub = agency, nc, sub

    @classmethod
    async def connect(cls, server: EmbeddedNatsServer, store: CredentialStore, agency: str) -> Any:
        nc = await nats.connect(
            server.url,
            nkeys_seed=str(store.seed_path(agency)),
            inbox_prefix=f"_INBOX.{agency}".encode(),
        )
        sub = await nc.jetstream().pull_subscribe_bind(
            agency_consumer(agency).durable, "MECHBUS", inbox_prefix=f"_INBOX.{agency}.".encode()
        )
        return cls(agency, nc, sub)

    async def publish(
        self, message: Envelope | bytes, kind: str | None = None, msg_id: str | None = None
    ) -> int:
        """Publish on this agency's outbox (with a Nats-Msg-Id only when told to); the
        stream sequence from the PubAck."""
        data = message if isinstance(message, bytes) else message.to_json()
        kind = kind or (type(message).kind() if isinstance(message, Envelope) else "x")
        subject = f"mech.v1.from.{self.agency}.{kind}"
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        ack = await self.nc.jetstream().publish(subject, data, headers=headers)
        return ack.seq

    async def inbox(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Fetch until a message in this agency's inbox satisfies ``wanted``."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                batch = await self.sub.fetch(batch=20, timeout=1)
            except TimeoutError:
                continue
            for msg in batch:
                await msg.ack()
                document = json.loads(msg.data)
                if wanted(document):
                    return dict(document)
        raise AssertionError(f"{self.agency} never received the message it waited for")


@contextlib.asynccontextmanager
async def agencies(
    server: EmbeddedNatsServer, store: CredentialStore
) -> AsyncIterator[tuple[RawAgency, RawAgency, AgencyClient]]:
    """The attacker, the agency it tries to silence, and the Mechanism, each connected with
    its own credentials."""
    attacker = await RawAgency.connect(server, store, A)
    victim = await RawAgency.connect(server, store, B)
    mechanism = await AgencyClient.connect(
        server.url, "fed.mechanism", creds=store.seed_path("fed.mechanism"), copy_ids=COPY_IDS
    )
    try:
        yield attacker, victim, mechanism
    finally:
        await attacker.nc.drain()
        await victim.nc.drain()
        await mechanism.close()


async def settled(
    ledger: SqlLedger, server: EmbeddedNatsServer, store: CredentialStore
) -> dict[str, int]:
    """Wait until the hub has accounted for every stream sequence (the stream grows meanwhile:
    notices), then count where each went: every sequence is in exactly one of messages,
    message_copies and dead_letters."""
    tables = {"messages": MessageRow, "copies": MessageCopyRow, "dead_letters": DeadLetterRow}
    nc = await nats.connect(
        server.url,
        nkeys_seed=str(store.seed_path("fed.hub")),
        inbox_prefix=subjects.inbox_prefix("fed.hub").encode(),
    )
    deadline = time.monotonic() + 30
    try:
        while True:
            last = (await nc.jetstream().stream_info("MECHBUS")).state.last_seq
            with ledger.session() as s:
                found = {
                    name: list(s.exec(select(table.stream_seq)).all())  # type: ignore[attr-defined]
                    for name, table in tables.items()
                }
            every = sorted(seq for values in found.values() for seq in values)
            if every == list(range(1, last + 1)):
                return {name: len(values) for name, values in found.items()} | {"stream": last}
            assert time.monotonic() < deadline, f"stream 1..{last} not accounted for: {found}"
            await asyncio.sleep(0.05)  # polling what the hub writes, with a deadline
    finally:
        await nc.drain()


@pytest.mark.integration
async def test_an_agency_cannot_suppress_another_agencys_receipt_or_answer(
    server: EmbeddedNatsServer, store: CredentialStore, hub: Hub, ledger: SqlLedger
) -> None:
    async with agencies(server, store) as (attacker, victim, mechanism):
        request = b.patrol_request(to=A, recipients=(A, B))
        await mechanism.send(request)
        seen = await attacker.inbox(lambda d: d.get("id") == request.id)
        # The attacker knows the request's id and B's receipt id (both computable) and tries
        # every header that could collide with B's receipt or B's copy, and the ids too.
        victims_receipt = receipt_id(request.id, B)
        forged = b.receipt(request.id, by=A)
        forged = forged.model_copy(update={"id": victims_receipt})
        for header in (victims_receipt, f"{request.id}:{B}", request.id):
            await attacker.publish(forged, msg_id=header)
        answer_id = "01JAVICTIMANSWER000000000X"
        forged_ack = b.acknowledgement(request.id, by=A).model_copy(update={"id": answer_id})
        await attacker.publish(forged_ack, msg_id=answer_id)
        assert seen["id"] == request.id

        # B, following the contract: receipt with its fixed id, then its acknowledgement, with
        # no Nats-Msg-Id; the attacker used both ids (and headers) first.
        await victim.inbox(lambda d: d.get("id") == request.id)
        receipt = b.receipt(request.id, by=B).model_copy(update={"id": victims_receipt})
        await victim.publish(receipt)
        ack = b.acknowledgement(request.id, by=B).model_copy(update={"id": answer_id})
        await victim.publish(ack)

        await hub.wait_until(
            lambda: recipient_status(ledger, request.id, B) == "acknowledged", timeout=15
        )
        row = recipient(ledger, request.id, B)
        assert row is not None
        assert row.delivered_at is not None and row.acknowledged_by is not None
        with ledger.session() as s:
            mine = s.exec(select(MessageRow.message_id).where(MessageRow.source == B)).all()
        assert sorted(mine) == sorted([victims_receipt, answer_id])
        # Nothing of B's is a dead letter, and nobody told B its messages were duplicates.
        with ledger.session() as s:
            assert not s.exec(select(DeadLetterRow).where(DeadLetterRow.sender == B)).all()
        counts = await settled(ledger, server, store)
        assert counts["stream"] == counts["messages"] + counts["copies"] + counts["dead_letters"]


@pytest.mark.integration
async def test_an_agency_cannot_pre_empt_the_hubs_reminder(
    server: EmbeddedNatsServer,
    store: CredentialStore,
    hub: Hub,
    ledger: SqlLedger,
    clock: Clock,
) -> None:
    async with agencies(server, store) as (attacker, victim, mechanism):
        request = b.patrol_request(to=B)
        await mechanism.send(request)
        await victim.inbox(lambda d: d.get("id") == request.id)
        await hub.wait_until(lambda: recipient_status(ledger, request.id, B) == "sent", timeout=15)
        sweeper = Sweeper(
            SqlObligations(ledger),
            hub.transport,
            policy=Policy.load(),
            clock=clock,
            copy_ids=hub.copy_ids,
        )
        # The reminder's envelope id is a hash of public facts (request, agency, clock, rung):
        # the attacker computes it (here: as the ladder does) and publishes every header it
        # could have, and an envelope under that id, before the rung fires.
        clock.now = b.T0 + 1.1 * H
        obligations = SqlObligations(ledger).open_obligations(clock.now)
        [rung] = [
            r
            for ob in obligations
            for r in rungs_due(ob, Policy.load(), clock.now, active_registry(), None)
        ]
        reminder_id = rung_message(rung).id
        squatter = b.acknowledgement(request.id, by=A).model_copy(update={"id": reminder_id})
        for header in (reminder_id, f"{reminder_id}:{B}", f"{reminder_id}:fed.board"):
            await attacker.publish(squatter, msg_id=header)

        await sweeper.sweep_once()
        reminder = await victim.inbox(lambda d: d.get("id") == reminder_id)
        assert reminder["type"] == "mech.tracking.acknowledgement_overdue.v1"
        await hub.wait_until(lambda: _escalations(ledger, B) >= 1, timeout=15)
        counts = await settled(ledger, server, store)
        assert counts["stream"] == counts["messages"] + counts["copies"] + counts["dead_letters"]


def _escalations(ledger: SqlLedger, agency: str) -> int:
    with ledger.session() as s:
        return int(
            s.exec(
                select(func.count())
                .select_from(EscalationRow)
                .where(EscalationRow.agency == agency)
            ).one()
        )


@pytest.mark.integration
async def test_every_kind_of_id_collision_is_recorded_or_refused_never_lost(
    server: EmbeddedNatsServer,
    store: CredentialStore,
    hub: Hub,
    ledger: SqlLedger,
    figures: Callable[[str], None],
) -> None:
    rounds = 25
    async with agencies(server, store) as (attacker, victim, mechanism):
        expected_refusals = 0
        for i in range(rounds):
            request = b.patrol_request(to=A, recipients=(A, B), subject=f"MPDDHP-2026-{1000 + i}")
            await mechanism.send(request)  # two copies: one message, one copy
            ack = b.acknowledgement(request.id, by=B)
            await victim.publish(
                b.receipt(request.id, by=B).model_copy(update={"id": receipt_id(request.id, B)})
            )
            # the same receipt again, a minute later (a redelivered request): one receipt
            await victim.publish(
                b.receipt(request.id, by=B, at=b.T0 + timedelta(minutes=1)).model_copy(
                    update={"id": receipt_id(request.id, B)}
                )
            )
            await victim.publish(ack)
            await victim.publish(ack)  # the same bytes again: a resend
            # the acknowledgement's id reused for a progress report: refused, B told
            reused = b.progress(request.id, by=B).model_copy(update={"id": ack.id})
            await victim.publish(reused)
            # the same bytes on another subject: refused (wrong subject), B told
            await victim.publish(ack.to_json(), kind="acceptance")
            # an answer under the federal request's id: B's own id space, recorded
            await victim.publish(
                b.acceptance(request.id, by=B).model_copy(update={"id": request.id})
            )
            # A reuses B's acknowledgement id, with B's header: A's own message, recorded
            await attacker.publish(
                b.acknowledgement(request.id, by=A).model_copy(update={"id": ack.id}),
                msg_id=ack.id,
            )
            # the Mechanism reuses its request's id for a different request: refused, told
            other = b.patrol_request(to=B, id=request.id, subject="MPDDHP-2026-9999")
            await mechanism.send(other)
            expected_refusals += 3
        counts = await settled(ledger, server, store)
        with ledger.session() as s:
            letters = s.exec(select(DeadLetterRow)).all()
            kinds = dict(
                s.exec(
                    select(MessageCopyRow.kind, func.count()).group_by(MessageCopyRow.kind)
                ).all()
            )
            acknowledged = s.exec(
                select(func.count())
                .select_from(RecipientRow)
                .where(RecipientRow.status == "accepted", RecipientRow.agency == B)
            ).one()
        reasons = sorted({d.reason for d in letters})
        figures(
            f"stream {counts['stream']} = messages {counts['messages']} + copies "
            f"{counts['copies']} {kinds} + dead letters {counts['dead_letters']} {reasons}; "
            "lost 0"
        )
        assert counts["stream"] == counts["messages"] + counts["copies"] + counts["dead_letters"]
        assert kinds == {"copy": rounds, "resent": rounds, "receipt_again": rounds}
        assert len(letters) == expected_refusals
        assert reasons == ["duplicate", "wrong_subject"]
        assert all(d.notice is not None for d in letters)  # every sender was told
        assert acknowledged == rounds
        # The notices name what they refuse by stream sequence.
        for letter in letters:
            assert letter.notice is not None
            notice = json.loads(letter.notice)
            assert notice["data"]["stream_sequence"] == letter.stream_seq
        # the record keeps each sender's id once
        with ledger.session() as s:
            pairs = s.exec(select(MessageRow.source, MessageRow.message_id)).all()
        assert len(pairs) == len(set(pairs))


def test_route_copy_keys_are_not_sent_as_headers() -> None:
    """What an outside agency could compute is never a Nats-Msg-Id on the bus."""
    request = b.patrol_request(to=A, recipients=(A, B))
    ids = CopyIds(b"k" * 32)
    for subject, copy_key in subjects.routes(request, b.REGISTRY):
        assert copy_key is not None
        assert ids.header(copy_key, request.to_json()) not in (copy_key, request.id)
        assert subject.startswith("mech.v1.to.")
    [(_, none)] = subjects.routes(b.acknowledgement(request.id, by=B), b.REGISTRY)
    assert none is None
