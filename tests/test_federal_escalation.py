"""The Mechanism held to its own clock on a real nats-server, by the real hub and sweeper: urgent
measures not issued within 3 hours climb every rung once, and stop once issued late."""

from __future__ import annotations

import pytest
from sqlmodel import select

from adapters.ledger.obligations import SqlObligations
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DeadLetterRow, EscalationRow, FederalObligationRow, MessageRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain.permissions import for_agency
from bus.domain.policy import Clock, Policy
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from bus.runtime.sweeper import Sweeper
from bus.runtime.transport import JetStreamTransport
from schemas.tracking import BoardSessionScheduled
from tests import builders as b
from tests.test_escalation import FakeClock, H, clock, hub_and_ledger  # noqa: F401
from tests.test_federal_obligations import CASE, incorporation, measures_issued

pytestmark = pytest.mark.integration


def rungs(ledger: SqlLedger) -> list[tuple[str, str, str]]:
    with ledger.session() as s:
        rows = s.exec(select(EscalationRow).order_by(EscalationRow.id))
        return [(r.level, r.agency, r.to_agency) for r in rows]


async def test_urgent_measures_not_issued_climb_every_rung_once_then_stop(
    nats_server: EmbeddedNatsServer,
    hub_and_ledger: tuple[Hub, SqlLedger],  # noqa: F811
    clock: FakeClock,  # noqa: F811
) -> None:
    hub, ledger = hub_and_ledger
    policy = Policy.load()
    async with (
        await AgencyClient.connect(nats_server.url, "fed.reception") as reception,
        await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(nats_server.url, "fed.board") as board,
    ):
        await board.send(
            BoardSessionScheduled(
                source="fed.board",
                time=b.T0,
                data={
                    "session_id": "JG-2026-03",
                    "scheduled_at": b.T0 + 8 * 24 * H,
                    "venue": "CDMX",
                },
            )
        )
        await reception.send(incorporation(urgent=True))
        await hub.wait_until(lambda: ledger.count(MessageRow) == 2)

        sweep = Sweeper(
            SqlObligations(ledger),
            JetStreamTransport(mechanism.js, "MECHBUS"),
            policy=policy,
            clock=clock,
        )

        async def reach(hours: float, n: int) -> None:
            clock.now = b.T0 + hours * H
            await sweep.sweep_once()
            await hub.wait_until(lambda: len(rungs(ledger)) == n)

        clock.now = b.T0 + 2.9 * H  # within the 3 hours: nothing
        assert await sweep.sweep_once() == []
        await reach(3.1, 2)  # the measures' and the study's reminders (both 3 h)
        await reach(4.6, 4)
        # A sweeper with no memory of the first: nothing fires twice.
        sweep = Sweeper(
            SqlObligations(ledger),
            JetStreamTransport(mechanism.js, "MECHBUS"),
            policy=policy,
            clock=clock,
        )
        await reach(6.1, 6)
        await reach(9.1, 8)
        assert await sweep.sweep_once() == []

        # Issued at last, late; a later study of the case is not this test's concern.
        clock.now = b.T0 + 10 * H
        await mechanism.send(measures_issued(clock.now))
        await hub.wait_until(lambda: ledger.count(MessageRow) == 11)
        clock.now = b.T0 + 100 * H
        assert await sweep.sweep_once() == []

    measures = [r for r in rungs(ledger) if r[1] == "fed.reception"]
    assert measures == [
        ("reminder", "fed.reception", "fed.reception"),
        ("authority_notice", "fed.reception", "fed.mechanism"),
        ("board_agenda", "fed.reception", "fed.board"),
        ("monthly_report", "fed.reception", "fed.mechanism"),
    ]
    assert [r[0] for r in rungs(ledger) if r[1] == "fed.risk"] == [r[0] for r in measures]
    with ledger.session() as s:
        agenda = s.exec(
            select(EscalationRow).where(
                EscalationRow.level == "board_agenda", EscalationRow.agency == "fed.reception"
            )
        ).one()
        assert agenda.board_session_id == "JG-2026-03"
        row = s.exec(
            select(FederalObligationRow).where(
                FederalObligationRow.clock == Clock.MEASURES_ISSUED.value
            )
        ).one()
        assert row.case_ref == CASE and row.met_at == b.T0 + 10 * H
        assert row.due_at is not None and row.met_at > row.due_at  # late, and recorded
    assert ledger.count(DeadLetterRow) == 0


def test_a_unit_writes_only_on_its_own_outbox() -> None:
    for unit in ("fed.reception", "fed.risk"):
        rules = for_agency(b.REGISTRY[unit])
        assert not [p for p in rules.publish if p.startswith("mech.v1.") and unit not in p]
        assert rules.subscribe == (f"_INBOX.{unit}.>",)
    mechanism = for_agency(b.REGISTRY["fed.mechanism"])
    assert "mech.v1.to.>" in mechanism.publish
