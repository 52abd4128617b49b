"""The outbox: kept before publishing, sealed at rest, relayed once NATS confirms, never twice."""

from __future__ import annotations

import nats
import pytest
from sqlmodel import select

from adapters.ledger.outbox import Outbox
from adapters.ledger.tables import MessageRow, OutboxRow, RequestRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.runtime import jetstream
from bus.runtime.hub import Hub
from bus.runtime.transport import JetStreamTransport
from tests import builders as b
from tests.ledgers import upgraded_ledger

pytestmark = pytest.mark.integration

PERSON = {"full_name": "Persona Periodista", "address": "Calle Falsa 123, Iguala"}


async def test_a_relay_after_a_lost_puback_is_recorded_once(
    nats_server: EmbeddedNatsServer, ledger_url: str
) -> None:
    ledger = upgraded_ledger(ledger_url)
    hub = Hub(ledger, nats_server.url)
    await hub.start()
    nc = await nats.connect(nats_server.url)
    try:
        outbox = Outbox(ledger)
        request = b.patrol_request(
            data={**b.patrol_request().data.model_dump(), "personal": PERSON}
        )
        assert outbox.put(request) and not outbox.put(request)  # a retry keeps one entry
        with ledger.session() as s:
            sealed = s.exec(select(OutboxRow)).one().body_sealed
        assert b"Persona Periodista" not in sealed and b"Calle Falsa" not in sealed

        js = nc.jetstream()
        # The sender published, then died before it could mark the entry: the relay sends it
        # again with the same message id, and the stream's duplicate window absorbs it.
        await jetstream.publish(js, request, stream="MECHBUS")
        assert [w.message_id for w in outbox.waiting()] == [request.id]
        transport = JetStreamTransport(js, "MECHBUS")
        assert await outbox.relay(transport) == 1
        assert outbox.waiting() == [] and await outbox.relay(transport) == 0

        await hub.wait_until(lambda: hub.recorded >= 1)
        with ledger.session() as s:
            assert len(s.exec(select(RequestRow)).all()) == 1
            rows = s.exec(select(MessageRow).where(MessageRow.message_id == request.id)).all()
        assert len(rows) == 1 and ledger.personal(request.id, request.source) is not None
        info = await js.stream_info("MECHBUS")
        assert info.state.messages == 1
    finally:
        await nc.drain()
        await hub.stop()
        ledger.close()
