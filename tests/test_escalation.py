"""The escalation ladder on a real nats-server: each rung once, across sweeper restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from adapters.ledger.obligations import SqlObligations
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DeadLetterRow, EscalationRow, MessageRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain.policy import Policy
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from bus.runtime.sweeper import Sweeper
from bus.runtime.transport import JetStreamTransport
from schemas.tracking import BoardSessionScheduled
from tests import builders as b
from tests.ledgers import upgraded_ledger

pytestmark = pytest.mark.integration

H = timedelta(hours=1)


class FakeClock:
    """The hub's and the sweeper's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(b.T0)


@pytest.fixture
async def hub_and_ledger(
    nats_server: EmbeddedNatsServer, ledger_url: str, clock: FakeClock
) -> AsyncIterator[tuple[Hub, SqlLedger]]:
    ledger = upgraded_ledger(ledger_url)
    hub = Hub(ledger, nats_server.url, clock=clock)
    await hub.start()
    yield hub, ledger
    await hub.stop()
    ledger.close()


def levels(ledger: SqlLedger) -> list[tuple[str, str, str]]:
    with ledger.session() as s:
        rows = s.exec(select(EscalationRow).order_by(EscalationRow.id))
        return [(r.level, r.agency, r.to_agency) for r in rows]


async def test_unanswered_request_climbs_every_rung_once(
    nats_server: EmbeddedNatsServer,
    hub_and_ledger: tuple[Hub, SqlLedger],
    clock: FakeClock,
) -> None:
    hub, ledger = hub_and_ledger
    policy = Policy.load()
    async with (
        await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(nats_server.url, "fed.board") as board,
        await AgencyClient.connect(nats_server.url, "gro.government") as guerrero,
    ):
        await board.send(
            BoardSessionScheduled(
                source="fed.board",
                time=b.T0,
                data={
                    "session_id": "JG-2026-03",
                    # its material is due 5 days before: the Board rung (2 h) is in time
                    "scheduled_at": b.T0 + 8 * 24 * H,
                    "venue": "Secretaría de Gobernación, CDMX",
                },
            )
        )
        await mechanism.send(b.board_consent("MPDDHP-2026-0401"))
        silent = b.patrol_request(to="tam.government", subject="MPDDHP-2026-0401")
        answered = b.patrol_request(to="gro.government")
        await mechanism.send(silent)
        await mechanism.send(answered)
        incoming = await anext(guerrero.requests())
        await incoming.acknowledge("Subsecretaría de Derechos Humanos")
        await incoming.accept()
        await hub.wait_until(lambda: ledger.count(MessageRow) == 7)  # + receipt, ack, accept

        def fired(n: int) -> bool:
            return len(levels(ledger)) == n

        obligations = SqlObligations(ledger)
        as_mechanism = JetStreamTransport(mechanism.js, "MECHBUS")
        sweeps = [Sweeper(obligations, as_mechanism, policy=policy, clock=clock, interval=0.05)]
        sweeps[0].start()

        clock.now = b.T0 + 0.9 * H  # before the urgent 1 h deadline: nothing
        assert await sweeps[0].sweep_once() == []
        clock.now = b.T0 + 1.1 * H
        await hub.wait_until(lambda: fired(1))
        assert levels(ledger) == [("reminder", "tam.government", "tam.government")]

        # Kill the sweeper (no goodbye) and start a new one with no memory.
        sweeps[0]._task.cancel()  # type: ignore[union-attr]
        sweeps.append(Sweeper(obligations, as_mechanism, policy=policy, clock=clock, interval=0.05))
        sweeps[1].start()
        clock.now = b.T0 + 1.6 * H
        await hub.wait_until(lambda: fired(2))
        assert levels(ledger)[1] == ("authority_notice", "tam.government", "tam.government")

        # A sweeper that crashes after publishing but before the hub recorded: the rung goes
        # out twice with the same id and bytes, and is recorded once.
        await sweeps[1].stop()
        clock.now = b.T0 + 2.2 * H
        restarted = Sweeper(obligations, as_mechanism, policy=policy, clock=clock)
        first, second = await asyncio.gather(restarted.sweep_once(), restarted.sweep_once())
        # Both sweeps saw the rung unrecorded, or the second saw the first's already in the
        # ledger: either way one rung id went out.
        assert len({m.id for m in first + second}) == 1
        await hub.wait_until(lambda: fired(3))

        # The clock jumps a week ahead: the last rung fires, once.
        clock.now = b.T0 + 7 * 24 * H
        await restarted.sweep_once()
        await hub.wait_until(lambda: fired(4))
        assert await restarted.sweep_once() == []  # every rung has fired
        await sweeps[0].stop()

    assert [lvl for lvl, _, _ in levels(ledger)] == [
        "reminder",
        "authority_notice",
        "board_agenda",
        "monthly_report",
    ]
    with ledger.session() as s:
        board_rung = s.exec(
            select(EscalationRow).where(EscalationRow.level == "board_agenda")
        ).one()
        assert board_rung.board_session_id == "JG-2026-03"
        assert board_rung.authority_to_summon == "tam.government"
        assert board_rung.to_agency == "fed.board"
        assert all(r.agency == "tam.government" for r in s.exec(select(EscalationRow)))
    assert ledger.count(DeadLetterRow) == 0


async def test_scorecard_for_a_scripted_month_through_the_bus(
    nats_server: EmbeddedNatsServer,
    hub_and_ledger: tuple[Hub, SqlLedger],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    """March 2026 played through the bus with the hub's clock set; figures by hand below."""
    from adapters.readmodel.report import write_report
    from adapters.readmodel.scorecard import state_scores, state_scores_from_facts
    from bus.domain.scorecard import StateScore

    hub, ledger = hub_and_ledger
    url = nats_server.url

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return b.T0.replace(day=day, hour=hour, minute=minute)

    async def settle(n: int) -> None:
        await hub.wait_until(lambda: ledger.count(MessageRow) == n)

    async with (
        await AgencyClient.connect(url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(url, "gro.government") as guerrero,
        await AgencyClient.connect(url, "ver.government") as veracruz,
    ):
        gro_requests = guerrero.requests()
        # 2 March 10:00, ordinary: acknowledged at 12:00 (2 h, on time), accepted, committed.
        clock.now = at(2, 10)
        first = b.patrol_request(at=clock.now, urgency="ordinary")
        await mechanism.send(first)
        await settle(1)
        incoming = await anext(gro_requests)
        await settle(2)  # the delivery receipt
        clock.now = at(2, 12)
        await incoming.acknowledge("Subsecretaría de Derechos Humanos")
        await incoming.accept()
        await incoming.commit("C1", "Rondines perimetrales", at(20, 0))
        await settle(5)
        # 3 March 10:00, Veracruz: acknowledged at 11:30.
        clock.now = at(3, 10)
        await mechanism.send(
            b.patrol_request(
                to="ver.government", at=clock.now, subject="MPDDHP-2026-0388", urgency="ordinary"
            )
        )
        await settle(6)
        ver_incoming = await anext(veracruz.requests())
        await settle(7)
        clock.now = at(3, 11, 30)
        await ver_incoming.acknowledge("Subsecretaría de Gobierno")
        await ver_incoming.accept()
        await settle(9)
        # 5 March 10:00, urgent (due 11:00): acknowledged at 15:00, 5 h, late.
        clock.now = at(5, 10)
        await mechanism.send(b.patrol_request(at=clock.now))
        await settle(10)
        late = await anext(gro_requests)
        await settle(11)
        clock.now = at(5, 15)
        await late.acknowledge("Subsecretaría de Derechos Humanos")
        await late.accept()
        await settle(13)
        # 10 March: an investigation the prosecutor never acknowledges.
        clock.now = at(10, 0)
        await mechanism.send(b.investigation_request(at=clock.now))
        await settle(14)
        # 19 March: the commitment is fulfilled a day early.
        clock.now = at(19, 9)
        await guerrero.fulfil(first, "C1", ["OF-SSP-GRO-2026-118"])
        await settle(15)

    march, april = b.T0.replace(day=1, hour=0), b.T0.replace(month=4, day=1, hour=0)
    with ledger.session() as session:
        scores = state_scores(session, asof=april, since=march)
        # the SQL aggregation and the pure reference definition agree, for the month, all
        # time, and a moment in the middle of the month
        for asof, since in ((april, march), (april, None), (at(5, 14), march)):
            assert state_scores(session, asof=asof, since=since) == state_scores_from_facts(
                session, asof=asof, since=since
            )
        report = write_report(session, "2026-03", tmp_path / "report", april)
    assert scores == [
        StateScore(
            "GRO",
            requests_received=3,
            acknowledged_on_time=1,
            acknowledgements_due=3,
            median_hours_to_acknowledge=3.5,
            commitments_due=1,
            commitments_kept_on_time=1,
            open_overdue=1,
            summons=0,
            summons_attended=0,
        ),
        StateScore("VER", 1, 1, 1, 1.5, 0, 0, 0, 0, 0),
    ]
    markdown = report.markdown.read_text()
    assert "| GRO Guerrero | 3 | 33.3 % (1/3) | 3.5 | 100.0 % (1/1) | 1 | 0/0 |" in markdown
    # no word of the people protected; the Mechanism's own name (its units' section) aside
    mechanism = b.REGISTRY["fed.mechanism"].name
    assert "scorecard-2026-03.svg" in markdown
    assert "Periodista" not in markdown.replace(mechanism, "")
    import xml.etree.ElementTree as ET

    svg = ET.parse(report.chart).getroot()
    assert svg.tag.endswith("svg") and len(svg.findall(".//{http://www.w3.org/2000/svg}rect")) >= 4
