"""A poison message: the hub keeps failing on it, JetStream gives up after the max deliveries,
and the advisory turns it into a kept dead letter, while its neighbours are recorded at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlmodel import select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DeadLetterRow, RequestRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain.ports import MessageRecord
from bus.domain.streams import StreamSpec, dead_letter_stream
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from schemas.tracking import Rejected, RejectionReason
from tests import builders as b
from tests.ledgers import upgraded_ledger

pytestmark = pytest.mark.integration


class PoisonedLedger:
    """The real ledger, except that recording certain messages fails like a bug would."""

    def __init__(self, ledger: SqlLedger, poison: set[str]) -> None:
        self.ledger = ledger
        self.poison = poison

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    @contextmanager
    def unit(self) -> Iterator[Any]:
        with self.ledger.unit() as unit:
            yield _PoisonedUnit(unit, self.poison)


class _PoisonedUnit:
    def __init__(self, unit: Any, poison: set[str]) -> None:
        self._unit = unit
        self._poison = poison

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unit, name)

    def add_message(self, record: MessageRecord) -> None:
        if record.message_id in self._poison:
            raise RuntimeError("simulated bug on this message\nsecond line never kept")
        self._unit.add_message(record)


@pytest.fixture
async def poisoned(
    nats_server: EmbeddedNatsServer, ledger_url: str
) -> AsyncIterator[tuple[Hub, SqlLedger, set[str]]]:
    ledger = upgraded_ledger(ledger_url)
    poison: set[str] = set()
    hub = Hub(PoisonedLedger(ledger, poison), nats_server.url, max_deliver=3)  # type: ignore[arg-type]
    await hub.start()
    yield hub, ledger, poison
    await hub.stop()
    ledger.close()


async def test_poison_message_is_kept_and_its_neighbours_recorded(
    nats_server: EmbeddedNatsServer,
    poisoned: tuple[Hub, SqlLedger, set[str]],
    figures: Callable[[str], None],
) -> None:
    hub, ledger, poison = poisoned
    before, bad, after = (b.patrol_request(subject=f"MPDDHP-2026-05{i}") for i in range(3))
    poison.add(bad.id)
    async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
        for request in (before, bad, after):
            await mechanism.send(request)
        await hub.wait_until(lambda: hub.recorded >= 2)
        with ledger.session() as s:
            assert {r.request_id for r in s.exec(select(RequestRow))} == {before.id, after.id}

        notice = await mechanism.next_notice(timeout=30)
        assert isinstance(notice, Rejected)
        assert notice.data.reason is RejectionReason.UNDELIVERABLE
        assert notice.data.rejected_id == bad.id
        with ledger.session() as s:
            [kept] = s.exec(select(DeadLetterRow)).all()
        assert kept.reason == "undeliverable" and kept.message_id == bad.id
        assert "after 3 deliveries" in kept.detail
        assert "RuntimeError: simulated bug on this message" in kept.detail
        assert "second line" not in kept.detail  # an error's later lines may quote data
        assert ledger.dead_letter_body(kept) == bad.to_json()  # kept whole, sealed

        info = await mechanism.js.stream_info(dead_letter_stream(StreamSpec()).name)
        assert info.state.messages == 1  # the server's advisory, kept too
        # Requests only: the rejected notice is a message the hub records too.
        with ledger.session() as s:
            requests = len(s.exec(select(RequestRow)).all())
        figures(f"sent 3, recorded {requests}, kept as undeliverable {hub.dead_letters}, lost 0")
