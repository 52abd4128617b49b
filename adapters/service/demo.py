"""The demo: plays a scenario on an embedded nats-server, the hub on a SQLite ledger, the
deadline sweeper on a compressed clock, and stub agencies each in its own process."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table

from adapters import environment
from adapters.i18n import _
from adapters.ledger.store import SqlLedger
from adapters.readmodel import demo_outcome
from adapters.readmodel.cases import timeline
from adapters.readmodel.escalations import escalation_lines
from adapters.readmodel.federal import obligation_ids
from adapters.readmodel.placements import shelters
from adapters.readmodel.requests import request_lines
from adapters.readmodel.terminal import escalation_table, requests_table, timeline_table
from adapters.service import compose
from adapters.service.embedded import nats_for
from adapters.service.scenario import (
    FEDERAL_STEPS,
    KINDS,
    MATCHING,
    AggressorSpec,
    ConsentSpec,
    RequestSpec,
    Scenario,
)
from adapters.service.stubs import DemoError, stub_agencies
from adapters.settings import HubRunning, Settings
from bus.domain.capacity import matching
from bus.domain.federal import BOARD, MECHANISM, RECEPTION, RISK
from bus.domain.policy import Policy, parse_duration
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from schemas.capacity import PlacementConfirmed
from schemas.envelope import Envelope
from schemas.iachr import IachrMeasureRegistered
from schemas.requests import RelocationBody
from schemas.tracking import (
    AggressorAction,
    BoardConsent,
    BoardSessionScheduled,
    PresumedAggressor,
)

__all__ = ["DemoError", "DemoResult", "Player", "outcome_table", "run_demo"]


@dataclass
class DemoResult:
    request_ids: dict[str, str]  # scenario label -> request id
    unmet: list[str] = field(default_factory=list)


class Player:
    """Plays one scenario against a running hub."""

    def __init__(
        self,
        scenario: Scenario,
        hub: Hub,
        ledger: SqlLedger,
        url: str,
        console: Console,
        timeout: float,
        settings: Settings,
    ) -> None:
        self.settings = settings
        self.scenario, self.hub, self.ledger, self.url = scenario, hub, ledger, url
        self.console, self.timeout = console, timeout
        self.now = datetime.now(UTC)
        self.sessions = {
            s.id: (self.now + timedelta(days=s.in_days), s.venue) for s in scenario.board_sessions
        }
        self.ids: dict[str, str] = {}

    async def play(self) -> None:
        await self._schedule_sessions()
        await self._wait_for_capacity()
        await self._federal_steps()
        async with await self._connect(MECHANISM) as mechanism:
            for data in self.scenario.iachr_measures:
                measure = IachrMeasureRegistered(source=MECHANISM, time=self.now, data=data)
                await mechanism.send(measure)
                self.console.print(f"registered IACHR measure {measure.data.measure}")
            for consent in self.scenario.consents:
                await mechanism.send(self._consent(consent))
                self.console.print(f"consent to invite authorities recorded ({consent.case})")
            for named in self.scenario.presumed_aggressors:
                await mechanism.send(self._presumed_aggressor(named))
                self.console.print(f"named {named.agency} presumed aggressor on {named.case}")
            for spec in self.scenario.requests:
                message = self._build(spec, await self._recipients(spec))
                await mechanism.send(message)
                self.ids[spec.label] = message.id
                to = ", ".join(message.recipients)
                self.console.print(f"sent {spec.kind} to {to} ({spec.case})")
            for spec in self.scenario.requests:
                if spec.kind == "relocation":
                    await self._place(mechanism, spec)

    def _presumed_aggressor(self, named: AggressorSpec) -> PresumedAggressor:
        data = {"agency": named.agency, "action": AggressorAction.SET, "official_role": named.role}
        return PresumedAggressor.model_validate(
            {"source": MECHANISM, "time": self.now, "subject": named.case, "data": data}
        )

    async def _connect(self, agency: str) -> AgencyClient:
        return await AgencyClient.connect(
            self.url,
            agency,
            creds=self.settings.creds_for(agency),
            tls=compose.tls_context(self.settings),
            copy_ids=compose.copy_ids(self.settings),
        )

    async def _schedule_sessions(self) -> None:
        if not self.sessions:
            return
        async with await self._connect(BOARD) as board:
            for session_id, (at, venue) in self.sessions.items():
                data = {"session_id": session_id, "scheduled_at": at, "venue": venue}
                await board.send(BoardSessionScheduled(source=BOARD, time=self.now, data=data))

    async def _federal_steps(self) -> None:
        """What the Mechanism's own units and Board report, each on its own connection."""
        for spec in self.scenario.federal:
            cls, source = FEDERAL_STEPS[spec.step]
            when = {"incorporation": "received_at", "board_decision": "decided_at"}.get(spec.step)
            data = {**({when: datetime.now(UTC)} if when else {}), **spec.data}
            message = cls.model_validate(
                {
                    "source": source,
                    "time": datetime.now(UTC),
                    "subject": spec.case,
                    "urgency": "urgent" if spec.urgent else "ordinary",
                    "data": data,
                }
            )
            async with await self._connect(source) as unit:
                await unit.send(message)
            self.console.print(f"{source} reported {spec.step} ({spec.case})")

    def _consent(self, spec: ConsentSpec) -> BoardConsent:
        data = {"given": spec.given, "agencies": spec.agencies, "recorded_by": spec.recorded_by}
        return BoardConsent(source=MECHANISM, time=datetime.now(UTC), subject=spec.case, data=data)

    async def _wait_for_capacity(self) -> None:
        expected = {a.id for a in self.scenario.agencies if a.capacity is not None}

        def reported() -> bool:
            with self.ledger.session() as session:
                return expected <= demo_outcome.reporting_shelters(session)

        await self._until(reported, "the shelters did not report their capacity")

    async def _recipients(self, spec: RequestSpec) -> tuple[str, ...]:
        if spec.to != MATCHING:
            return tuple(spec.to)
        need = RelocationBody.model_validate(self._data(spec))
        with self.ledger.session() as session:
            fit = matching(shelters(session), need, datetime.now(UTC))
        if not fit:
            raise DemoError(f"{spec.label}: no shelter can take this relocation")
        return tuple(c.shelter for c in fit)

    def _data(self, spec: RequestSpec) -> dict[str, object]:
        data: dict[str, object] = dict(spec.data)
        if data.get("earliest") == "today":
            data["earliest"] = self.now.date()
        asked = data.get("implement_by")
        if isinstance(asked, str) and asked.startswith("in "):
            # "in 8h": policy time from now, on the demo's compressed clock like every deadline
            later = parse_duration(asked.removeprefix("in ")) / self.scenario.compression
            data["implement_by"] = datetime.now(UTC) + later
        if spec.kind == "board_summons":
            at, venue = self.sessions[str(data["session_id"])]
            data.setdefault("session_at", at)
            data.setdefault("venue", venue)
        return data

    def _build(self, spec: RequestSpec, to: tuple[str, ...]) -> Envelope:
        return KINDS[spec.kind].model_validate(
            {
                "source": "fed.mechanism",
                "time": datetime.now(UTC),
                "subject": spec.case,
                "recipients": to,
                "urgency": "urgent" if spec.urgent else "ordinary",
                "confidentiality": "personal" if spec.personal else "operational",
                "data": self._data(spec),
            }
        )

    async def _place(self, mechanism: AgencyClient, spec: RequestSpec) -> None:
        """Take the first offer: the hub records it, tells that shelter who is coming and
        releases the other offers."""
        request_id = self.ids[spec.label]

        def statuses() -> dict[str, str]:
            with self.ledger.session() as session:
                return demo_outcome.recipient_statuses(session, request_id)

        await self._until(lambda: "offered" in statuses().values(), f"{spec.label}: no offer")
        offered = [agency for agency, status in statuses().items() if status == "offered"]
        people = int(spec.data["people"])
        await mechanism.send(
            PlacementConfirmed.model_validate(
                {
                    "source": "fed.mechanism",
                    "time": datetime.now(UTC),
                    "subject": spec.case,
                    "correlation_id": request_id,
                    "recipients": (offered[0],),
                    "data": {
                        "shelter": offered[0],
                        "people": people,
                        "arrival_on": self.now.date(),
                        "personal": list(spec.personal),
                    },
                }
            )
        )
        self.console.print(f"placement for {spec.label} confirmed with {offered[0]}")

    async def settle(self) -> list[str]:
        """Wait until the expectations hold (or time runs out); return those unmet."""
        with contextlib.suppress(TimeoutError):
            await self.hub.wait_until(lambda: not self.unmet(), self.timeout)
        return self.unmet()

    def unmet(self) -> list[str]:
        with self.ledger.session() as session:
            return demo_outcome.unmet_expectations(self.scenario.expect, self.ids, session)

    async def _until(self, predicate: object, why: str) -> None:
        try:
            await self.hub.wait_until(predicate, self.timeout)  # type: ignore[arg-type]
        except TimeoutError:
            raise DemoError(f"{why} within {self.timeout:.0f}s") from None


def outcome_table(scenario: Scenario, unmet: list[str]) -> Table:
    table = Table(title=f"Outcome: {scenario.name}", header_style="bold")
    table.add_column("expected")
    table.add_column("observed")
    expect = scenario.expect
    claims = (
        [f"{a} acknowledged" for a in expect.acknowledged]
        + [f"{a} declined" for a in expect.declined]
        + [f"{a} climbed the whole escalation ladder" for a in expect.escalated]
        + [f"{label} placed with {s}" for label, s in expect.placed.items()]
        + [f"{a} fulfilled its commitments" for a in expect.fulfilled]
        + [f"{a} partially fulfilled its commitments" for a in expect.partially_fulfilled]
        + [f"the Mechanism met {k} on time" for k in expect.federal_on_time]
        + [f"the Mechanism missed {k} (late or overdue)" for k in expect.federal_missed]
        + [f"{a} committed beyond the legal limit (flagged)" for a in expect.beyond_legal_limit]
    )
    for claim in claims:
        table.add_row(claim, "[red]NO[/]" if claim in unmet else "[green]yes[/]")
    return table


async def run_demo(
    settings: Settings, console: Console, scenario: Scenario | None = None, timeout: float = 60.0
) -> DemoResult:
    scenario = scenario or Scenario.default()
    ledger = compose.open_ledger(settings, migrate=True)  # the demo's own ledger: it may make it
    policy = environment.policy().compressed(scenario.compression)
    console.print(f"[bold]{scenario.name}[/]")
    try:
        with compose.sole_hub(settings, ledger, home=not settings.nats_url):
            return await _play(settings, console, scenario, ledger, policy, timeout)
    except HubRunning as exc:
        raise DemoError(str(exc)) from None
    finally:
        ledger.close()


async def _play(
    settings: Settings,
    console: Console,
    scenario: Scenario,
    ledger: SqlLedger,
    policy: Policy,
    timeout: float,
) -> DemoResult:
    agencies = tuple(a.id for a in scenario.agencies)
    async with nats_for(settings, console, agencies) as url:
        hub = compose.hub(
            settings,
            ledger,
            url,
            policy=policy,
            provision=(*agencies, MECHANISM, BOARD, RECEPTION, RISK),
        )
        async with compose.recording(hub, ledger, policy=policy, sweep_interval=0.2, relay=False):
            console.print(f"[dim]hub recording into {settings.ledger_url}[/]")
            console.print(
                f"[yellow]compressed clock: deadlines run {scenario.compression:g} times faster "
                f"than the policy says (one policy hour = {3600 / scenario.compression:g} s)[/]"
            )
            async with stub_agencies(scenario.agencies, url, scenario.seed, timeout, settings):
                profiles = ", ".join(f"{a.id} ({a.profile})" for a in scenario.agencies)
                console.print(f"[dim]stub agencies: {profiles}[/]")
                player = Player(scenario, hub, ledger, url, console, timeout, settings)
                await player.play()
                unmet = await player.settle()
    ids = list(player.ids.values())
    with ledger.session() as session:
        console.print(timeline_table(timeline(session, ids)))
        lines = request_lines(session, request_ids=ids)
        rungs = escalation_lines(session, [*ids, *obligation_ids(session)])
    console.print(requests_table(lines, title=_("Requests and their answers")))
    console.print(escalation_table(rungs, title=_("Escalations (compressed clock)")))
    console.print(outcome_table(scenario, unmet))
    return DemoResult(player.ids, unmet)
