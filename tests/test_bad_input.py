"""The bad-input catalogue on a real nats-server: every kind gets a clear notice to its sender
and a kept dead letter, and nothing else changes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.ledger.store import sqlite_url
from adapters.ledger.tables import DeadLetterRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from schemas.tracking import Rejected, RejectionReason
from tests import builders as b
from tests.ledger_reads import recipient_status
from tests.ledgers import upgraded_ledger

pytestmark = pytest.mark.integration

OUTBOX = "mech.v1.from.gro.government.acknowledgement"


@pytest.fixture
async def bus(nats_server: EmbeddedNatsServer, tmp_path: object) -> AsyncIterator[Hub]:
    ledger = upgraded_ledger(sqlite_url(tmp_path / "ledger.db"))  # type: ignore[operator]
    hub = Hub(ledger, nats_server.url, defer_unknown_for=0.3)
    await hub.start()
    yield hub
    await hub.stop()
    ledger.close()


def _doc(message: object) -> dict[str, object]:
    return json.loads(message.to_json())  # type: ignore[attr-defined,no-any-return]


async def _publish(
    client: AgencyClient, subject: str, body: bytes, msg_id: str | None = None
) -> None:
    headers = {"Nats-Msg-Id": msg_id} if msg_id else None
    await client.js.publish(subject, body, stream="MECHBUS", headers=headers)


CATALOGUE = [
    "malformed_json",
    "wrong_type",
    "missing_field",
    "extra_field",
    "naive_timestamp",
    "unknown_agency",
    "unknown_message_type",
    "oversize",
    "duplicate",
    "out_of_order",
    "response_to_closed_request",
    "expired",
]


@pytest.mark.parametrize("kind", CATALOGUE)
async def test_bad_input_catalogue(nats_server: EmbeddedNatsServer, bus: Hub, kind: str) -> None:
    url = nats_server.url
    async with (
        await AgencyClient.connect(url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(url, "gro.government") as guerrero,
    ):
        request = b.patrol_request()
        await mechanism.send(request)
        incoming = await anext(guerrero.requests())
        ack = _doc(b.acknowledgement(request.id))
        told, expected = guerrero, None
        if kind == "malformed_json":
            await _publish(guerrero, OUTBOX, b'{"type": "mech.response.acknowledgement.v1",')
            expected = (RejectionReason.MALFORMED, "not JSON")
        elif kind == "wrong_type":
            ack["data"] = {"official_role": ["not", "a", "string"]}
            await _publish(guerrero, OUTBOX, json.dumps(ack).encode())
            expected = (RejectionReason.SCHEMA, "data.official_role")
        elif kind == "missing_field":
            del ack["source"]
            await _publish(guerrero, OUTBOX, json.dumps(ack).encode())
            expected = (RejectionReason.SCHEMA, "source: Field required")
        elif kind == "extra_field":
            ack["priority"] = "high"
            await _publish(guerrero, OUTBOX, json.dumps(ack).encode())
            expected = (RejectionReason.SCHEMA, "priority: Extra inputs are not permitted")
        elif kind == "naive_timestamp":
            ack["time"] = "2026-03-02T15:00:00"
            await _publish(guerrero, OUTBOX, json.dumps(ack).encode())
            expected = (RejectionReason.SCHEMA, "timezone")
        elif kind == "unknown_agency":
            ack["source"] = "gro.police"
            await _publish(guerrero, OUTBOX, json.dumps(ack).encode())
            expected = (RejectionReason.UNKNOWN_AGENCY, "unknown agency 'gro.police'")
        elif kind == "unknown_message_type":
            ack["type"] = "mech.response.thumbs_up.v1"
            await _publish(guerrero, OUTBOX, json.dumps(ack).encode())
            expected = (RejectionReason.UNKNOWN_TYPE, "mech.response.thumbs_up.v1")
        elif kind == "oversize":
            await _publish(guerrero, OUTBOX, b"{" + b" " * 70_000 + b"}")
            expected = (RejectionReason.OVERSIZE, "the limit is 65536")
        elif kind == "duplicate":
            other = b.patrol_request(id=request.id, subject="MPDDHP-2026-0999")
            await _publish(
                mechanism,
                "mech.v1.to.gro.government.protection_measure",
                other.to_json(),
                msg_id="another-publication",
            )
            told, expected = mechanism, (RejectionReason.DUPLICATE, "different message")
        elif kind == "out_of_order":
            await incoming.accept()  # before acknowledging
            expected = (RejectionReason.ILLEGAL_TRANSITION, "must acknowledge")
        elif kind == "response_to_closed_request":
            await mechanism.send(b.recall(request.id))
            await bus.wait_until(
                lambda: recipient_status(bus.ledger, request.id, "gro.government") == "cancelled"
            )
            await incoming.acknowledge("Oficialía")
            expected = (RejectionReason.ILLEGAL_TRANSITION, "recalled")
        elif kind == "expired":
            now = datetime.now(UTC)
            late = b.acknowledgement(request.id, at=now - timedelta(hours=2)).model_copy(
                update={"expires": now - timedelta(hours=1)}
            )
            await _publish(guerrero, OUTBOX, late.to_json())
            expected = (RejectionReason.EXPIRED, "expired at")
        notice = await told.next_notice()
    assert expected is not None
    assert isinstance(notice, Rejected), notice
    reason, words = expected
    assert notice.data.reason is reason and words in notice.data.detail, notice.data.detail
    await bus.wait_until(lambda: bus.ledger.count(DeadLetterRow) == 1)  # type: ignore[attr-defined]
