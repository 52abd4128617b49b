"""A commitment beyond its legal limit, through a real nats-server, hub and sweeper: the
reminder fires at the legal limit, not at the date the agency promised."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from adapters.ledger.obligations import SqlObligations
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import CommitmentRow, EscalationRow, MessageRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain.policy import Policy
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from bus.runtime.sweeper import Sweeper
from bus.runtime.transport import JetStreamTransport
from schemas.tracking import CommitmentOverdue
from tests import builders as b
from tests.test_escalation import FakeClock, clock, hub_and_ledger, levels

pytestmark = pytest.mark.integration

__all__ = ["clock", "hub_and_ledger"]  # the fixtures of the ladder's own tests, reused

H = timedelta(hours=1)


async def test_a_commitment_beyond_the_limit_is_reminded_at_the_limit(
    nats_server: EmbeddedNatsServer,
    hub_and_ledger: tuple[Hub, SqlLedger],
    clock: FakeClock,
) -> None:
    hub, ledger = hub_and_ledger
    async with (
        await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(nats_server.url, "gro.government") as guerrero,
    ):
        urgent = b.patrol_request(to="gro.government")  # issued at T0: implemented by T0 + 9 h
        await mechanism.send(urgent)
        incoming = await anext(guerrero.requests())
        clock.now = b.T0 + 0.5 * H
        await incoming.acknowledge("Subsecretaría de Derechos Humanos")
        await incoming.accept()
        await incoming.commit("C1", "Rondines perimetrales", b.T0 + 14 * 24 * H)  # two weeks
        await hub.wait_until(lambda: ledger.count(MessageRow) == 5)  # + receipt, ack, accept
        with ledger.session() as s:
            row = s.exec(select(CommitmentRow)).one()
        assert (row.due, row.legal_limit) == (b.T0 + 14 * 24 * H, b.T0 + 9 * H)  # recorded

        as_mechanism = JetStreamTransport(mechanism.js, "MECHBUS")
        sweeper = Sweeper(SqlObligations(ledger), as_mechanism, policy=Policy.load(), clock=clock)
        clock.now = b.T0 + 8.9 * H  # the promise is far off, the limit is near: nothing yet
        assert await sweeper.sweep_once() == []
        clock.now = b.T0 + 9.1 * H  # past the legal limit, two weeks before the promised date
        [sent] = await sweeper.sweep_once()
        await hub.wait_until(lambda: len(levels(ledger)) == 1)
        told = await guerrero.next_notice()

    assert isinstance(sent, CommitmentOverdue)
    assert sent.data.due_at == b.T0 + 9 * H and sent.data.commitment_id == "C1"
    assert isinstance(told, CommitmentOverdue)  # the agency itself hears it, and the limit
    assert told.id == sent.id and told.data.due_at == b.T0 + 9 * H
    assert levels(ledger) == [("reminder", "gro.government", "gro.government")]
    with ledger.session() as s:
        rung = s.exec(select(EscalationRow)).one()
    assert rung.due_at == b.T0 + 9 * H and rung.clock == "implementation"
