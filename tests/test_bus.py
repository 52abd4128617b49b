"""End to end on a real nats-server: requests, receipts, acknowledgements, bad input, restarts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import nats
import pytest
from sqlmodel import select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DeadLetterRow, MessageRow, RecipientRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain.lifecycle import RecipientStatus
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from schemas.tracking import Rejected, RejectionReason
from tests import builders as b
from tests.ledger_reads import recipient_status

pytestmark = pytest.mark.integration


@pytest.fixture
async def mechanism(nats_server: EmbeddedNatsServer, hub: Hub) -> AsyncIterator[AgencyClient]:
    async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as client:
        yield client


@pytest.fixture
async def government(nats_server: EmbeddedNatsServer, hub: Hub) -> AsyncIterator[AgencyClient]:
    async with await AgencyClient.connect(nats_server.url, "gro.government") as client:
        yield client


async def test_request_receipt_acknowledgement_recorded(
    hub: Hub, ledger: SqlLedger, mechanism: AgencyClient, government: AgencyClient
) -> None:
    request = b.patrol_request()
    await mechanism.send(request)
    await hub.wait_until(lambda: recipient_status(ledger, request.id, "gro.government") == "sent")
    incoming = await anext(government.requests())
    assert incoming.id == request.id and incoming.message == request
    await hub.wait_until(
        lambda: recipient_status(ledger, request.id, "gro.government") == "delivered"
    )
    await incoming.acknowledge("Subsecretaría de Derechos Humanos")
    await hub.wait_until(
        lambda: (
            recipient_status(ledger, request.id, "gro.government") == RecipientStatus.ACKNOWLEDGED
        )
    )
    await incoming.accept()
    await hub.wait_until(
        lambda: recipient_status(ledger, request.id, "gro.government") == "accepted"
    )
    with ledger.session() as s:
        types = [m.type for m in s.exec(select(MessageRow).order_by(MessageRow.stream_seq))]
        row = s.exec(select(RecipientRow)).one()
    assert types == [
        "mech.request.protection_measure.v1",
        "mech.response.delivery_receipt.v1",
        "mech.response.acknowledgement.v1",
        "mech.response.accepted.v1",
    ]
    assert row.delivered_at is not None and row.acknowledged_at is not None
    assert row.delivered_at <= row.acknowledged_at <= row.decided_at  # type: ignore[operator]


async def test_duplicate_publish_is_one_row(
    nats_server: EmbeddedNatsServer, hub: Hub, ledger: SqlLedger, mechanism: AgencyClient
) -> None:
    request = b.patrol_request()
    [first] = await mechanism.send(request)
    [second] = await mechanism.send(request)  # a retry after a lost PubAck
    assert not first.duplicate and second.duplicate and first.seq == second.seq
    # The same bytes again after the duplicate window (simulated with another Nats-Msg-Id):
    # JetStream stores them, the ledger keeps one row and nobody is scolded for a retry.
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.publish(
        "mech.v1.to.gro.government.protection_measure",
        request.to_json(),
        stream="MECHBUS",
        headers={"Nats-Msg-Id": "after-the-window"},
    )
    # A different message reusing that id is refused and kept, and the sender is told.
    reused = b.patrol_request(id=request.id, subject="MPDDHP-2026-0999")
    await js.publish(
        "mech.v1.to.gro.government.protection_measure",
        reused.to_json(),
        stream="MECHBUS",
        headers={"Nats-Msg-Id": "reused-id"},
    )
    await nc.close()
    notice = await mechanism.next_notice()
    assert isinstance(notice, Rejected) and notice.data.reason is RejectionReason.DUPLICATE
    assert notice.data.rejected_id == request.id and "different message" in notice.data.detail
    assert ledger.count(MessageRow) == 1
    assert ledger.count(DeadLetterRow) == 1


BAD_INPUT = [
    (
        "not json",
        "mech.v1.from.gro.government.acknowledgement",
        b"\xff{oops",
        RejectionReason.MALFORMED,
        "not JSON",
    ),
    (
        "json array",
        "mech.v1.from.gro.government.acknowledgement",
        b"[1, 2]",
        RejectionReason.MALFORMED,
        "JSON object",
    ),
    (
        "unknown type",
        "mech.v1.from.gro.government.acknowledgement",
        b'{"type": "mech.response.shrug.v1", "id": "01M8KHEY07QWTZKE0VW6WNXK55"}',
        RejectionReason.UNKNOWN_TYPE,
        "mech.response.shrug.v1",
    ),
    (
        "schema",
        "mech.v1.from.gro.government.acknowledgement",
        b.acknowledgement("01M8KHEY07QWTZKE0VW6WNXK55")
        .to_json()
        .replace(b'"data":{', b'"data":{"x":1,'),
        RejectionReason.SCHEMA,
        "data.x: Extra inputs are not permitted",
    ),
]


@pytest.mark.parametrize(("name", "subject", "body", "reason", "words"), BAD_INPUT, ids=lambda v: v)
async def test_bad_input_dead_lettered_and_sender_told(
    nats_server: EmbeddedNatsServer,
    hub: Hub,
    ledger: SqlLedger,
    government: AgencyClient,
    name: str,
    subject: str,
    body: bytes,
    reason: RejectionReason,
    words: str,
) -> None:
    await government.js.publish(subject, body, stream="MECHBUS")
    notice = await government.next_notice()
    assert isinstance(notice, Rejected)
    assert notice.data.reason is reason and words in notice.data.detail
    assert notice.data.rejected_subject == subject
    with ledger.session() as s:
        kept = s.exec(select(DeadLetterRow)).one()
    assert kept.reason == reason.value and kept.sender == "gro.government"
    assert ledger.dead_letter_body(kept) == body  # kept sealed, opened to investigate
    # the notice itself is on the bus, so the hub records it like any message
    await hub.wait_until(lambda: ledger.count(MessageRow) == 1)


async def test_unknown_agency_and_illegal_transitions(
    nats_server: EmbeddedNatsServer,
    hub: Hub,
    ledger: SqlLedger,
    mechanism: AgencyClient,
    government: AgencyClient,
) -> None:
    # A request to an agency that is not in the registry.
    doc = json.loads(b.patrol_request().to_json())
    doc["recipients"] = ["gro.police"]
    await mechanism.js.publish(
        "mech.v1.to.gro.government.protection_measure", json.dumps(doc).encode(), stream="MECHBUS"
    )
    notice = await mechanism.next_notice()
    assert notice.data.reason is RejectionReason.UNKNOWN_AGENCY  # type: ignore[attr-defined]
    assert "unknown agency 'gro.police'" in notice.data.detail  # type: ignore[attr-defined]

    # Acknowledging a request that was never sent.
    await government.send(b.acknowledgement("01M8KHEY07QWTZKE0VW6WNXK55"))
    notice = await government.next_notice()
    assert notice.data.reason is RejectionReason.UNKNOWN_REQUEST  # type: ignore[attr-defined]

    # Acknowledging a request addressed to someone else.
    request = b.investigation_request(to="gro.prosecutor")
    await mechanism.send(request)
    await government.send(b.acknowledgement(request.id, by="gro.government"))
    notice = await government.next_notice()
    assert notice.data.reason is RejectionReason.NOT_ADDRESSED  # type: ignore[attr-defined]
    assert "not addressed to gro.government" in notice.data.detail  # type: ignore[attr-defined]

    # Speaking in another agency's name on one's own subject.
    await government.js.publish(
        "mech.v1.from.gro.government.acknowledgement",
        b.acknowledgement(request.id, by="gro.prosecutor").to_json(),
        stream="MECHBUS",
    )
    notice = await government.next_notice()
    assert notice.data.reason is RejectionReason.SPOOFED_SOURCE  # type: ignore[attr-defined]

    await hub.wait_until(lambda: ledger.count(DeadLetterRow) == 4)
    assert recipient_status(ledger, request.id, "gro.prosecutor") == "sent"


async def test_hub_restart_loses_and_doubles_nothing(
    nats_server: EmbeddedNatsServer, ledger: SqlLedger
) -> None:
    hub = Hub(ledger, nats_server.url)
    await hub.start()
    sent: list[str] = []
    async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
        for _ in range(150):
            request = b.patrol_request()
            await mechanism.send(request)
            sent.append(request.id)
        await hub.wait_until(lambda: ledger.count(MessageRow) >= 50)
        await hub.stop()  # mid-stream: some recorded, some not yet
        for _ in range(150):  # published while no hub is running
            request = b.patrol_request()
            await mechanism.send(request)
            sent.append(request.id)
        for request_id in sent[:20]:  # and some retries of earlier requests
            with ledger.session() as s:
                body = s.exec(
                    select(MessageRow.body).where(MessageRow.message_id == request_id)
                ).first()
            if body is not None:
                await mechanism.js.publish(
                    "mech.v1.to.gro.government.protection_measure",
                    body,
                    stream="MECHBUS",
                    headers={"Nats-Msg-Id": f"{request_id}:gro.government"},
                )
    restarted = Hub(ledger, nats_server.url)
    await restarted.start()
    try:
        await restarted.wait_until(lambda: ledger.count(MessageRow) >= 300, timeout=30)
    finally:
        await restarted.stop()
    with ledger.session() as s:
        ids = list(s.exec(select(MessageRow.message_id)))
    assert sorted(ids) == sorted(sent)
    assert ledger.count(DeadLetterRow) == 0


async def test_agency_declines_with_a_reason(
    nats_server: EmbeddedNatsServer, hub: Hub, ledger: SqlLedger, mechanism: AgencyClient
) -> None:
    request = b.investigation_request(to="gro.prosecutor")
    await mechanism.send(request)
    async with await AgencyClient.connect(nats_server.url, "gro.prosecutor") as prosecutor:
        incoming = await anext(prosecutor.requests())
        await incoming.acknowledge("Fiscalía Especializada")
        await incoming.decline("not_competent", "Los hechos corresponden al fuero federal.")
    await hub.wait_until(
        lambda: recipient_status(ledger, request.id, "gro.prosecutor") == "declined"
    )
    with ledger.session() as s:
        row = s.exec(select(RecipientRow)).one()
    assert row.decision_note == "not_competent" and row.acknowledged_by == "Fiscalía Especializada"


async def test_commitment_mistakes_are_refused_to_their_sender(
    nats_server: EmbeddedNatsServer,
    hub: Hub,
    ledger: SqlLedger,
    mechanism: AgencyClient,
    government: AgencyClient,
) -> None:
    from datetime import UTC, datetime, timedelta

    request = b.patrol_request(recipients=("gro.government", "gro.prosecutor"))
    await mechanism.send(request)
    incoming = await anext(government.requests())
    await incoming.acknowledge("Subsecretaría de Derechos Humanos")
    await incoming.accept()
    past = datetime.now(UTC) - timedelta(days=1)
    mistakes = [
        (government.commit(request, "C0", "Rondines", past), "has passed"),
        (government.report_progress(request, "C9", "Avance"), "no commitment C9"),
    ]
    for attempt, words in mistakes:
        await attempt
        notice = await government.next_notice()
        assert notice.data.reason is RejectionReason.ILLEGAL_TRANSITION  # type: ignore[attr-defined]
        assert words in notice.data.detail  # type: ignore[attr-defined]
    await government.commit(request, "C1", "Rondines", datetime.now(UTC) + timedelta(days=3))
    async with await AgencyClient.connect(nats_server.url, "gro.prosecutor") as prosecutor:
        await prosecutor.fulfil(request, "C1", ["OF-FGE-1"])  # not the one who committed
        notice = await prosecutor.next_notice()
    assert "made by gro.government" in notice.data.detail  # type: ignore[attr-defined]
    await hub.wait_until(lambda: ledger.count(DeadLetterRow) == 3)
