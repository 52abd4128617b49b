"""The demo: plays a scenario on an embedded nats-server, the hub on a SQLite ledger, the
deadline sweeper on a compressed clock, and stub agencies each in its own process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, select

from adapters.ledger.obligations import SqlObligations
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import CommitmentRow, EscalationRow, RecipientRow, ShelterCapacityRow
from adapters.natsserver.binary import parent_death_hook
from adapters.natsserver.credentials import CredentialStore
from adapters.natsserver.server import EmbeddedNatsServer
from adapters.readmodel.tracking import shelters
from adapters.readmodel.views import (
    escalation_lines,
    escalation_table,
    request_lines,
    requests_table,
    timeline,
    timeline_table,
)
from adapters.service.scenario import KINDS, MATCHING, AgencySpec, RequestSpec, Scenario
from adapters.settings import HubRunning, Settings
from bus.domain.capacity import matching
from bus.domain.policy import Policy
from bus.domain.streams import StreamSpec
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from bus.runtime.sweeper import Sweeper
from schemas.capacity import PlacementConfirmed
from schemas.envelope import Envelope
from schemas.requests import RelocationBody
from schemas.tracking import BoardSessionScheduled, EscalationLevel


class DemoError(RuntimeError):
    """The demo could not complete; the message says why."""


@dataclass
class DemoResult:
    request_ids: dict[str, str]  # scenario label -> request id
    unmet: list[str] = field(default_factory=list)


def stub_command(
    settings: Settings, agency: str, url: str, profile: str, seed: int, capacity: str | None
) -> list[str]:
    """The command line of one stub agency process, with its credentials and CA if any."""
    args = [
        sys.executable,
        "-m",
        "agency_stubs",
        "--as",
        agency,
        "--nats-url",
        url,
        "--profile",
        profile,
        "--seed",
        str(seed),
    ]
    creds = settings.creds_for(agency)
    if creds is not None:
        args += ["--creds", str(creds)]
    if settings.tls_files.exist():
        args += ["--tls-ca", str(settings.tls_files.ca)]
    if capacity is not None:
        args += ["--capacity", capacity]
    return args


@contextlib.asynccontextmanager
async def stub_agencies(
    agencies: tuple[AgencySpec, ...], url: str, seed: int, timeout: float, settings: Settings
) -> AsyncIterator[None]:
    """Each stub agency in its own process, as a real agency runs its own client."""
    procs = []
    for spec in agencies:
        capacity = (
            json.dumps(spec.capacity, ensure_ascii=False) if spec.capacity is not None else None
        )
        command = stub_command(settings, spec.id, url, spec.profile, seed, capacity)
        procs.append(
            await asyncio.create_subprocess_exec(
                *command,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=parent_death_hook(),
            )
        )
    try:
        for spec, proc in zip(agencies, procs, strict=True):
            assert proc.stdout is not None and proc.stderr is not None
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
            if not line.startswith(b"ready"):
                await proc.wait()
                why = (await proc.stderr.read()).decode(errors="replace").strip().splitlines()
                raise DemoError(f"stub agency {spec.id} did not start: {why[-1] if why else ''}")
        yield
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        await asyncio.gather(*(proc.wait() for proc in procs))


FEDERAL_USERS = ("fed.hub", "fed.mechanism", "fed.board")


def server_config(settings: Settings, agencies: tuple[str, ...]) -> str:
    """Authorization (and TLS, once `mechbus creds tls` was run) for the embedded servers:
    the federal users and ``agencies`` get their credentials in the home's store (issued once,
    reused), and every user may use only its own subjects. Anonymous connections are refused.
    """
    store = CredentialStore(settings.creds_dir)
    store.init()
    for agency in (*FEDERAL_USERS, *agencies):
        store.ensure(agency)
    config = store.server_config()
    if settings.tls_files.exist():  # every client must use TLS
        config += settings.tls_files.server_config()
    return config


@contextlib.asynccontextmanager
async def nats_for(
    settings: Settings, console: Console, agencies: tuple[str, ...] = ()
) -> AsyncIterator[str]:
    """The given server, or an embedded one that is stopped (and reaped) on the way out.

    The embedded server always requires credentials (see ``server_config``).
    """
    if settings.nats_url:
        yield settings.nats_url
        return
    server = EmbeddedNatsServer(
        settings.nats_store,
        extra_config=server_config(settings, agencies),
        store_key=settings.store_key(),
    )
    # Started from this (main) thread: the server's parent-death signal is tied to the thread
    # that started it, and a worker thread may go away before we do.
    url = server.start()
    console.print(f"[dim]embedded nats-server {url} (JetStream in {settings.nats_store})[/]")
    try:
        yield url
    finally:
        server.stop()


CLUSTER_STREAM = StreamSpec(replicas=3)
"""The stream on a three-node cluster: every message on all three nodes' disks."""


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
        async with await self._connect("fed.mechanism") as mechanism:
            for spec in self.scenario.requests:
                message = self._build(spec, await self._recipients(spec))
                await mechanism.send(message)
                self.ids[spec.label] = message.id
                to = ", ".join(message.recipients)
                self.console.print(f"sent {spec.kind} to {to} ({spec.case})")
            for spec in self.scenario.requests:
                if spec.kind == "relocation":
                    await self._place(mechanism, spec)

    async def _connect(self, agency: str) -> AgencyClient:
        return await AgencyClient.connect(
            self.url,
            agency,
            creds=self.settings.creds_for(agency),
            tls=self.settings.tls_context(),
            copy_ids=self.settings.copy_ids(),
        )

    async def _schedule_sessions(self) -> None:
        if not self.sessions:
            return
        async with await self._connect("fed.board") as board:
            for session_id, (at, venue) in self.sessions.items():
                data = {"session_id": session_id, "scheduled_at": at, "venue": venue}
                await board.send(
                    BoardSessionScheduled(source="fed.board", time=self.now, data=data)
                )

    async def _wait_for_capacity(self) -> None:
        expected = {a.id for a in self.scenario.agencies if a.capacity is not None}

        def reported() -> bool:
            with self.ledger.session() as session:
                known = set(session.exec(select(ShelterCapacityRow.shelter)))
            return expected <= known

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
                rows = session.exec(
                    select(RecipientRow)
                    .where(RecipientRow.request_id == request_id)
                    .order_by(col(RecipientRow.position))
                )
                return {r.agency: r.status for r in rows}

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
            return unmet_expectations(self.scenario, self.ids, session)

    async def _until(self, predicate: object, why: str) -> None:
        try:
            await self.hub.wait_until(predicate, self.timeout)  # type: ignore[arg-type]
        except TimeoutError:
            raise DemoError(f"{why} within {self.timeout:.0f}s") from None


def unmet_expectations(scenario: Scenario, ids: dict[str, str], session: Session) -> list[str]:
    rows = list(
        session.exec(select(RecipientRow).where(col(RecipientRow.request_id).in_(ids.values())))
    )
    by_agency: dict[str, list[RecipientRow]] = {}
    for row in rows:
        by_agency.setdefault(row.agency, []).append(row)
    laddered = set(
        session.exec(
            select(EscalationRow.agency).where(
                EscalationRow.level == EscalationLevel.MONTHLY_REPORT.value
            )
        )
    )
    unmet = []
    expect = scenario.expect
    for agency in expect.acknowledged:
        if not by_agency.get(agency) or any(r.acknowledged_at is None for r in by_agency[agency]):
            unmet.append(f"{agency} acknowledged")
    for agency in expect.declined:
        if not any(r.status == "declined" for r in by_agency.get(agency, [])):
            unmet.append(f"{agency} declined")
    for agency in expect.escalated:
        if agency not in laddered:
            unmet.append(f"{agency} climbed the whole escalation ladder")
    for label, shelter in expect.placed.items():
        placed = [r for r in rows if r.request_id == ids.get(label) and r.agency == shelter]
        if not placed or placed[0].status not in ("placed", "arrived"):
            unmet.append(f"{label} placed with {shelter}")
    commitments = list(
        session.exec(select(CommitmentRow).where(col(CommitmentRow.request_id).in_(ids.values())))
    )
    for wanted, agencies in (
        ("fulfilled", expect.fulfilled),
        ("partially_fulfilled", expect.partially_fulfilled),
    ):
        for agency in agencies:
            made = [c for c in commitments if c.agency == agency]
            if not made or any(c.status != wanted for c in made):
                unmet.append(f"{agency} {wanted.replace('_', ' ')} its commitments")
    return unmet


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
    )
    for claim in claims:
        table.add_row(claim, "[red]NO[/]" if claim in unmet else "[green]yes[/]")
    return table


async def run_demo(
    settings: Settings, console: Console, scenario: Scenario | None = None, timeout: float = 60.0
) -> DemoResult:
    scenario = scenario or Scenario.default()
    ledger = settings.ledger()
    policy = Policy.load().compressed(scenario.compression)
    console.print(f"[bold]{scenario.name}[/]")
    try:
        with settings.sole_hub(ledger, home=not settings.nats_url):
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
        hub = Hub(
            ledger,
            url,
            policy=policy,
            creds=settings.creds_for("fed.hub"),
            tls=settings.tls_context(),
            provision=(*agencies, "fed.mechanism", "fed.board"),
            copy_ids=settings.copy_ids(),
        )
        await hub.start()
        console.print(f"[dim]hub recording into {settings.ledger_url}[/]")
        console.print(
            f"[yellow]compressed clock: deadlines run {scenario.compression:g} times faster "
            f"than the policy says (one policy hour = {3600 / scenario.compression:g} s)[/]"
        )
        sweeper = Sweeper(
            SqlObligations(ledger), hub.js, policy=policy, interval=0.2, copy_ids=hub.copy_ids
        )
        sweeper.start()
        try:
            async with stub_agencies(scenario.agencies, url, scenario.seed, timeout, settings):
                profiles = ", ".join(f"{a.id} ({a.profile})" for a in scenario.agencies)
                console.print(f"[dim]stub agencies: {profiles}[/]")
                player = Player(scenario, hub, ledger, url, console, timeout, settings)
                await player.play()
                unmet = await player.settle()
        finally:
            await sweeper.stop()
            await hub.stop()
    ids = list(player.ids.values())
    with ledger.session() as session:
        console.print(timeline_table(timeline(session, ids)))
        lines = request_lines(session, request_ids=ids)
        rungs = escalation_lines(session, ids)
    console.print(requests_table(lines, title="Requests and their answers"))
    console.print(escalation_table(rungs, title="Escalations (compressed clock)"))
    console.print(outcome_table(scenario, unmet))
    return DemoResult(player.ids, unmet)
