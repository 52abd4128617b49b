"""The tamper-evident record: the hash chain over the ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from adapters.ledger.store import SqlLedger
from bus.domain.chain import GENESIS, verify
from bus.domain.recording import record_batch
from tests import builders as b
from tests.test_recording import Stream

NOW = b.T0 + timedelta(minutes=1)


def fill(ledger: SqlLedger, n: int = 5) -> list[str]:
    stream = Stream()
    ids = []
    for _ in range(n):
        request = b.patrol_request()
        record_batch(
            ledger, [stream.deliver(request), stream.deliver(b.receipt(request.id))], NOW, b.RULES
        )
        ids.append(request.id)
    return ids


def test_an_untouched_record_verifies(ledger: SqlLedger) -> None:
    fill(ledger)
    checked, broken = verify(ledger.chain())
    assert (checked, broken) == (10, None)
    links = list(ledger.chain())
    assert links[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(links))
    assert ledger.last_link() == (links[-1].seq, links[-1].message_id, links[-1].row_hash)


def test_an_edited_row_is_named(ledger: SqlLedger) -> None:
    ids = fill(ledger)
    with ledger.engine.begin() as conn:  # an insider rewrites who sent a request
        conn.execute(
            text("UPDATE messages SET source = 'fed.board' WHERE message_id = :id"), {"id": ids[2]}
        )
    checked, broken = verify(ledger.chain())
    assert checked == 4 and broken is not None
    assert broken.message_id == ids[2] and "changed" in broken.problem


def test_a_removed_row_is_noticed(ledger: SqlLedger) -> None:
    ids = fill(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM messages WHERE message_id = :id"), {"id": ids[1]})
    checked, broken = verify(ledger.chain())
    assert checked == 2 and broken is not None
    assert "removed, inserted or reordered" in broken.problem


def test_a_rewritten_body_is_noticed(ledger: SqlLedger) -> None:
    ids = fill(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE messages SET body = :body WHERE message_id = :id"),
            {"body": b"{}", "id": ids[4]},
        )
    _, broken = verify(ledger.chain())
    assert broken is not None and broken.message_id == ids[4]


@pytest.mark.integration
async def test_the_hub_publishes_checkpoints_of_the_chain(
    nats_server: object, ledger: SqlLedger
) -> None:
    from adapters.ledger.tables import MessageRow
    from bus.runtime.agency import AgencyClient
    from bus.runtime.hub import Hub
    from schemas.messages import parse_message
    from schemas.tracking import Checkpoint

    hub = Hub(ledger, nats_server.url, checkpoint_interval=0.1)  # type: ignore[attr-defined]
    await hub.start()
    try:
        async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:  # type: ignore[attr-defined]
            await mechanism.send(b.patrol_request())

        def checkpointed() -> bool:
            with ledger.session() as s:
                kinds = s.exec(select(MessageRow.type)).all()
            return "mech.tracking.checkpoint.v1" in kinds

        await hub.wait_until(checkpointed)
    finally:
        await hub.stop()
    links = list(ledger.chain())
    checkpoint = parse_message(next(link.body for link in links if "checkpoint" in link.type))
    assert isinstance(checkpoint, Checkpoint)
    attested = next(link for link in links if link.seq == checkpoint.data.last_seq)
    assert attested.row_hash == checkpoint.data.chain_hash
    assert verify(ledger.chain())[1] is None
