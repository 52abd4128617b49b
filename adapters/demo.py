"""The demo: an embedded nats-server, the hub on a SQLite ledger, stub agencies, real requests."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rich.console import Console

from adapters.ledger import SqlLedger
from adapters.natsserver import EmbeddedNatsServer, parent_death_hook
from adapters.obligations import SqlObligations
from adapters.settings import Settings
from adapters.views import (
    escalation_lines,
    escalation_table,
    request_lines,
    requests_table,
    timeline,
    timeline_table,
)
from bus.agency import AgencyClient
from bus.hub import Hub
from bus.policy import LADDER, Policy
from bus.sweeper import Sweeper
from schemas.envelope import Envelope
from schemas.requests import InformationRequest, InvestigationRequest, ProtectionMeasureRequest
from schemas.tracking import BoardSessionScheduled

ANSWERING = ("gro.government", "gro.prosecutor", "ver.government", "ver.prosecutor")
SILENT = "tam.government"  # no client runs for it: its request stays unanswered
COMPRESSION = 3600.0  # demo clock: one policy hour passes in one second
BOARD_SESSION = "JG-DEMO"


@contextlib.asynccontextmanager
async def stub_agencies(agencies: tuple[str, ...], url: str, timeout: float) -> AsyncIterator[None]:
    """Each stub agency in its own process, as a real agency runs its own client."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agency_stubs",
            "--as",
            agency,
            "--nats-url",
            url,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=parent_death_hook(),
        )
        for agency in agencies
    ]
    try:
        for agency, proc in zip(agencies, procs, strict=True):
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
            if not line.startswith(b"ready"):
                raise DemoError(f"stub agency {agency} did not start (exit {proc.returncode})")
        yield
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        await asyncio.gather(*(proc.wait() for proc in procs))


@contextlib.asynccontextmanager
async def nats_for(settings: Settings, console: Console) -> AsyncIterator[str]:
    """The given server, or an embedded one that is stopped (and reaped) on the way out."""
    if settings.nats_url:
        yield settings.nats_url
        return
    server = EmbeddedNatsServer(settings.nats_store)
    # Started from this (main) thread: the server's parent-death signal is tied to the thread
    # that started it, and a worker thread may go away before we do.
    url = server.start()
    console.print(f"[dim]embedded nats-server {url} (JetStream in {settings.nats_store})[/]")
    try:
        yield url
    finally:
        server.stop()


def demo_requests(now: datetime) -> list[Envelope]:
    """Requests drawn from the Mechanism's daily work (people and places are fictional)."""
    return [
        ProtectionMeasureRequest(
            source="fed.mechanism",
            time=now,
            subject="MPDDHP-2026-0412",
            recipients=("gro.government",),
            urgency="urgent",
            confidentiality="personal",
            data={
                "measures": ["perimeter_patrol"],
                "beneficiary_role": "journalist",
                "state": "GRO",
                "municipality": "Chilpancingo de los Bravo",
                "instructions": "Rondines perimetrales al domicilio cada 4 horas, 30 días.",
                "implement_by": now + timedelta(hours=9),
                "legal_basis": "LPPDDHP art. 27-28 (procedimiento extraordinario)",
                "personal": {"full_name": "Periodista P. Ejemplo", "address": "Domicilio 1"},
            },
        ),
        InvestigationRequest(
            source="fed.mechanism",
            time=now,
            subject="MPDDHP-2026-0412",
            recipients=("gro.prosecutor",),
            data={
                "aggression": "amenazas de muerte",
                "facts_summary": "Amenazas por mensajería tras publicar una investigación local.",
                "steps_requested": ["Abrir carpeta de investigación", "Análisis de mensajes"],
            },
        ),
        ProtectionMeasureRequest(
            source="fed.mechanism",
            time=now,
            subject="MPDDHP-2026-0388",
            recipients=("ver.government",),
            data={
                "measures": ["cameras", "locks", "panic_button"],
                "beneficiary_role": "defender",
                "state": "VER",
                "instructions": "Instalar cámaras y cerraduras en la sede de la organización.",
            },
        ),
        InvestigationRequest(
            source="fed.mechanism",
            time=now,
            subject="MPDDHP-2026-0388",
            recipients=("ver.prosecutor",),
            data={
                "aggression": "allanamiento de oficina",
                "facts_summary": "Ingreso no autorizado y sustracción de equipo de cómputo.",
            },
        ),
        InformationRequest(
            source="fed.mechanism",
            time=now,
            subject="MPDDHP-2026-0401",
            recipients=(SILENT,),
            urgency="urgent",
            data={"question": "Informe el estado de las medidas de protección otorgadas."},
        ),
    ]


class DemoError(RuntimeError):
    """The demo could not complete; the message says why."""


@dataclass
class DemoResult:
    request_ids: list[str]
    answered: int


async def _send_and_wait(
    hub: Hub, ledger: SqlLedger, url: str, console: Console, timeout: float
) -> list[str]:
    now = datetime.now(UTC)
    requests = demo_requests(now)
    async with await AgencyClient.connect(url, "fed.board") as board:
        await board.send(
            BoardSessionScheduled(
                source="fed.board",
                time=now,
                data={
                    "session_id": BOARD_SESSION,
                    "scheduled_at": now + timedelta(days=30),
                    "venue": "Junta de Gobierno, Secretaría de Gobernación",
                },
            )
        )
    async with await AgencyClient.connect(url, "fed.mechanism") as mechanism:
        for request in requests:
            await mechanism.send(request)
            to = ", ".join(request.recipients)
            console.print(f"sent {type(request).kind()} to {to} ({request.subject})")
    ids = [r.id for r in requests]
    silent_id = requests[-1].id

    def settled() -> bool:
        with ledger.session() as session:
            lines = request_lines(session, request_ids=ids)
            rungs = escalation_lines(session, [silent_id])
        answered = sum(line.status == "accepted" for line in lines)
        return answered >= len(ANSWERING) and len(rungs) == len(LADDER)

    sweeper = Sweeper(SqlObligations(ledger), hub.js, policy=hub.policy, interval=0.2)
    sweeper.start()
    try:
        await hub.wait_until(settled, timeout)
    except TimeoutError:
        raise DemoError(
            f"within {timeout:.0f}s the stub agencies did not all answer, or the silent "
            "request did not climb the whole ladder"
        ) from None
    finally:
        await sweeper.stop()
    return ids


async def run_demo(settings: Settings, console: Console, timeout: float = 30.0) -> DemoResult:
    ledger = SqlLedger(settings.ledger_url)
    policy = Policy.load().compressed(COMPRESSION)
    try:
        async with nats_for(settings, console) as url:
            hub = Hub(ledger, url, policy=policy)
            await hub.start()
            console.print(f"[dim]hub recording into {settings.ledger_url}[/]")
            console.print(
                f"[yellow]compressed clock: deadlines run {COMPRESSION:.0f} times faster "
                "(one policy hour = one second)[/]"
            )
            try:
                async with stub_agencies(ANSWERING, url, timeout):
                    console.print(f"[dim]stub agencies answering: {', '.join(ANSWERING)}[/]")
                    ids = await _send_and_wait(hub, ledger, url, console, timeout)
            finally:
                await hub.stop()
        with ledger.session() as session:
            lines = request_lines(session, request_ids=ids)
            console.print(timeline_table(timeline(session, ids)))
            rungs = escalation_lines(session, ids)
        console.print(requests_table(lines, title="mechbus demo: requests and their answers"))
        console.print(
            escalation_table(rungs, title=f"The escalation ladder for {SILENT} (compressed clock)")
        )
        silent = [line.recipient for line in lines if line.status == "sent"]
        if silent:
            console.print(f"[bold red]unanswered:[/] {', '.join(silent)} has not even received it")
        return DemoResult(ids, len(lines) - len(silent))
    finally:
        ledger.close()
