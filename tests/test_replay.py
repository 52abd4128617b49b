"""Replay: the ledger rebuilt from the stream into an empty database equals the live one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
from sqlmodel import select

from adapters.ledger.replay import ReplayError, compare, replay
from adapters.ledger.store import SqlLedger, sqlite_url
from adapters.ledger.tables import DeadLetterRow, MessageRow, RecipientRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from tests import builders as b
from tests.ledgers import upgraded_ledger

pytestmark = pytest.mark.integration


@pytest.fixture
def live(hub: Hub, ledger: SqlLedger) -> tuple[Hub, SqlLedger]:
    """The hub on its default clock: it records each message at the stream's time."""
    return hub, ledger


async def _traffic(url: str, hub: Hub) -> None:
    """Requests, answers, commitments, a recall, a capacity report, personal data, bad input."""
    async with (
        await AgencyClient.connect(url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(url, "gro.government") as guerrero,
        await AgencyClient.connect(url, "shelter.casa-refugio-cdmx") as shelter,
    ):
        person = {"full_name": "Persona Periodista", "address": "Calle Falsa 123, Iguala"}
        answered = b.patrol_request(
            data={**b.patrol_request().data.model_dump(), "personal": person}
        )
        recalled = b.patrol_request(subject="MPDDHP-2026-0402")
        relocation = b.relocation_request(("shelter.casa-refugio-cdmx",))
        for request in (answered, recalled, relocation):
            await mechanism.send(request)
        await shelter.publish_capacity(**b.SHELTER_CAPACITY)
        requests = guerrero.requests()
        first = await anext(requests)
        await first.acknowledge("Subsecretaría de Derechos Humanos")
        await first.accept()
        due = datetime.now(UTC) + timedelta(days=3)
        await first.commit("C1", "Patrol the home twice a day", due)
        await mechanism.send(b.recall(recalled.id))
        # Bad input: kept as a dead letter, and its notice goes out on the stream.
        await guerrero.js.publish(
            "mech.v1.from.gro.government.acknowledgement", b"{not json", stream="MECHBUS"
        )

        def settled() -> bool:
            return hub.recorded >= 9 and hub.dead_letters >= 1

        await hub.wait_until(settled)


async def _replay_into(url: str, target: SqlLedger) -> dict[str, int]:
    nc = await nats.connect(url)
    try:
        report = await replay(nc.jetstream(), target, batch=4)  # several fetches
    finally:
        await nc.drain()
    return dict(report.results)


async def test_rebuilt_ledger_equals_the_live_one(
    nats_server: EmbeddedNatsServer, live: tuple[Hub, SqlLedger], tmp_path: Path
) -> None:
    hub, ledger = live
    await _traffic(nats_server.url, hub)
    rebuilt = upgraded_ledger(sqlite_url(tmp_path / "rebuilt.db"), sealer=ledger.sealer)
    try:
        results = await _replay_into(nats_server.url, rebuilt)
        assert results["recorded"] == ledger.count(MessageRow)
        assert results["dead_letter"] == 1
        assert compare(ledger, rebuilt) == []
        # Nothing was reordered in this run, so even the hash chains are the same.
        assert [link.row_hash for link in rebuilt.chain()] == [
            link.row_hash for link in ledger.chain()
        ]
        with rebuilt.session() as s:
            assert s.exec(select(RecipientRow)).all()
            assert s.exec(select(DeadLetterRow)).one().reason == "malformed"
        # Nothing personal was lost on the way: it is sealed in both, under the same key.
        keys = [(link.message_id, link.source) for link in ledger.chain()]
        kept = {k: ledger.personal(*k) for k in keys if ledger.personal(*k) is not None}
        assert kept and kept == {k: rebuilt.personal(*k) for k in kept}

        with pytest.raises(ReplayError, match="not empty"):
            await _replay_into(nats_server.url, rebuilt)
    finally:
        rebuilt.close()


async def test_compare_names_the_table_that_differs(
    nats_server: EmbeddedNatsServer, live: tuple[Hub, SqlLedger], tmp_path: Path
) -> None:
    hub, ledger = live
    await _traffic(nats_server.url, hub)
    rebuilt = upgraded_ledger(sqlite_url(tmp_path / "rebuilt.db"), sealer=ledger.sealer)
    try:
        await _replay_into(nats_server.url, rebuilt)
        with rebuilt.session() as s:
            row = s.exec(select(RecipientRow).where(RecipientRow.status == "accepted")).one()
            row.status = "declined"
            s.add(row)
            s.commit()
        [difference] = compare(ledger, rebuilt)
        assert (difference.table, difference.only_live, difference.only_rebuilt) == (
            "request_recipients",
            1,
            1,
        )
    finally:
        rebuilt.close()
