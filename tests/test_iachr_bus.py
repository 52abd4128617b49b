"""IACHR measures over a real nats-server: the Mechanism registers one through the hub, and one
whose notice predates its grant is kept as a dead letter with the reason, the Mechanism told."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DeadLetterRow, IachrMeasureRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from schemas.iachr import IachrMeasureRegistered
from schemas.tracking import Rejected, RejectionReason
from tests import builders as b

pytestmark = pytest.mark.integration


def _measure(mc: str, granted: date, notified: date) -> IachrMeasureRegistered:
    data = {
        "measure": mc,
        "granted_on": granted,
        "notified_on": notified,
        "state": "GRO",
        "beneficiaries": 2,
        "case_ref": "MPDDHP-2026-0412",
    }
    return IachrMeasureRegistered(source="fed.mechanism", time=b.T0, data=data)


async def test_a_measure_registered_through_the_hub_and_a_bad_one_dead_lettered(
    nats_server: EmbeddedNatsServer, hub: Hub, ledger: SqlLedger
) -> None:
    good = _measure("MC-123-24", date(2024, 3, 1), date(2024, 3, 12))
    bad = _measure("MC-9-24", date(2024, 3, 12), date(2024, 3, 1))
    async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
        await mechanism.send(good)
        await mechanism.send(bad)
        notice = await mechanism.next_notice()
    assert isinstance(notice, Rejected), notice
    assert notice.data.reason is RejectionReason.INVALID_DATES
    assert notice.data.rejected_id == bad.id and "before granted_on" in notice.data.detail
    await hub.wait_until(lambda: ledger.count(DeadLetterRow) == 1)
    with ledger.session() as s:
        [row] = s.exec(select(IachrMeasureRow)).all()
        assert (row.measure, row.granted_on, row.notified_on) == (
            "MC-123-24",
            date(2024, 3, 1),
            date(2024, 3, 12),
        )
        [kept] = s.exec(select(DeadLetterRow)).all()
        assert kept.reason == "invalid_dates" and kept.message_id == bad.id
        assert "before granted_on" in kept.detail
