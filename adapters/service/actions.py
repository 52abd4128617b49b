"""Staff actions shared by the command line and the dashboard: publish a federal message
through the outbox, confirm a placement (and learn whether the hub recorded it), fire an
escalation rung now."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from nats.aio.client import Client
from nats.errors import Error as NatsError
from sqlmodel import Session, select

from adapters import environment
from adapters.ledger.aggressors import barred_recipients
from adapters.ledger.consents import consents_for
from adapters.ledger.obligations import SqlObligations
from adapters.ledger.outbox import Outbox
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import EscalationRow
from adapters.readmodel import placements
from adapters.readmodel.cases import case_states, recorded_legal_limit
from adapters.readmodel.dead_letters import recorded_or_refused
from adapters.readmodel.placements import PlacementLine
from adapters.service import compose
from adapters.service.addressing import ImplementByRefused, MisaddressedRequest
from adapters.settings import Settings
from bus.domain import addressing, aggressors, subjects
from bus.domain.board import BoardPlan, no_consent_detail, uninvitable
from bus.domain.capacity import ShelterCapacity
from bus.domain.errors import RefusalError, TransportError
from bus.domain.federal import HUB
from bus.domain.ladder import Obligation, fire_now, rung_message, staff_rung
from bus.domain.legal_limit import date_problem, implement_by_problem
from bus.domain.policy import LADDER, Clock
from bus.domain.streams import StreamSpec
from bus.runtime import jetstream, tracing
from bus.runtime.agency import AgencyClient, AgencyError
from bus.runtime.jetstream import PublishError
from schemas.capacity import PlacementConfirmed
from schemas.envelope import Envelope
from schemas.registry import active_registry
from schemas.requests import (
    BoardSummons,
    ProtectionMeasureRequest,
    RelocationBody,
    RequestUpdate,
)


async def connect_as_hub(settings: Settings, url: str, name: str) -> Client:
    """A NATS connection as the hub's user, with its credentials and CA when the home has them."""
    return await jetstream.connect(
        url,
        name=name,
        agency=HUB,
        creds=settings.creds_for(HUB),
        tls=compose.tls_context(settings),
    )


class NoServer(TransportError, RuntimeError):
    """No NATS server is known and the message could not be kept either."""


class SendRefused(RefusalError, RuntimeError):
    """The bus refused the message to its sender (permissions, login): it is not kept."""


class NoConsent(RefusalError, ValueError):
    """A Board summons invites a state authority without the beneficiary's recorded consent
    (the hub would refuse it ``no_consent``): nothing is sent or kept."""

    code = "no_consent"


def refuse_before_sending(
    ledger: SqlLedger, message: Envelope, now: datetime | None = None
) -> None:
    """Refuse now, in one read of the ledger, what the hub would refuse for its case (a Board
    summons without consent, a message to an agency named presumed aggressor), and a request
    addressed against the rules (an agency of the wrong kind, or of another state than its
    case) or asking for a date to implement by that has passed or is beyond the legal limit
    (of a new protection measure, or of the request an update is about). An override reason
    in the message lets the addressing and the legal limit pass; nothing else."""
    now = now or datetime.now(UTC)
    with ledger.session() as session:
        _check_implement_by(session, message, now)
        _check_consent(session, message)
        _refuse_presumed_aggressors(session, message)
        _check_addressing(session, message)


def _check_implement_by(session: Session, message: Envelope, now: datetime) -> None:
    if isinstance(message, ProtectionMeasureRequest) and message.data.implement_by is not None:
        problem = implement_by_problem(message, now, environment.policy())
    elif isinstance(message, RequestUpdate) and message.data.implement_by is not None:
        request = message.correlation_id
        limit = partial(recorded_legal_limit, session, request)
        problem = date_problem(message.data.implement_by, now, limit)
    else:
        return  # no date to judge: the deployment's policy is not even read
    if problem is None:
        return
    refused = ImplementByRefused(problem)
    if not refused.overridable or addressing.override_reason(message) is None:
        raise refused


def _check_addressing(session: Session, message: Envelope) -> None:
    if not addressing.checked(message) or addressing.override_reason(message) is not None:
        return
    states = case_states(session, message.subject)
    problems = addressing.misaddressed(message, states, active_registry())
    if problems:
        raise MisaddressedRequest(message.type, problems, message.subject)


def _check_consent(session: Session, message: Envelope) -> None:
    if not isinstance(message, BoardSummons):
        return
    case = message.subject
    consent = consents_for(session, [case]).get(case) if case is not None else None
    missing = uninvitable(case, message.recipients, consent, active_registry())
    if missing:
        raise NoConsent(no_consent_detail(case, missing))


class ToPresumedAggressor(RefusalError, ValueError):
    """The message is addressed to an agency named presumed aggressor on its case: nothing
    is published, to it or to anyone else (``agencies`` says which recipients to remove)."""

    code = "presumed_aggressor"

    def __init__(self, detail: str, case_ref: str, agencies: tuple[str, ...]) -> None:
        super().__init__(detail, extra={"case_ref": case_ref, "agencies": list(agencies)})
        self.case_ref = case_ref
        self.agencies = agencies


def _refuse_presumed_aggressors(session: Session, message: Envelope) -> None:
    """Raise ``ToPresumedAggressor`` when ``message`` names a flagged recipient of its case."""
    registry = active_registry()
    case, barred = barred_recipients(session, message, registry)
    if case is not None and barred:
        raise ToPresumedAggressor(aggressors.refusal(case, barred, registry), case, barred)


@dataclass(frozen=True)
class Sent:
    """What became of a message: published (with its PubAcks) or kept in the outbox."""

    message: Envelope
    acks: list[Any] = field(default_factory=list)
    kept_because: str | None = None  # set when it waits in the outbox instead


async def _send_as_sender(settings: Settings, url: str, message: Envelope) -> list[Any]:
    async with await AgencyClient.connect(
        url,
        message.source,
        creds=settings.creds_for(message.source),
        tls=compose.tls_context(settings),
        max_reconnect_attempts=2,
        copy_ids=compose.copy_ids(settings),
    ) as client:
        return await client.send(message)


async def publish(settings: Settings, message: Envelope) -> Sent:
    """Publish ``message``; a federal service's message is kept in the outbox first, so that
    it is recorded durably even when NATS is unreachable, and relayed when NATS is back.
    Traced (when tracing is on) as one send, which the hub's record of it continues."""
    with tracing.sending(message.type, message.id):
        return await _publish(settings, message)


async def _publish(settings: Settings, message: Envelope) -> Sent:
    federal = message.source.startswith("fed.")
    ledger = compose.open_ledger(settings) if federal else None
    outbox = Outbox(ledger) if ledger is not None else None
    try:
        if ledger is not None:
            await asyncio.to_thread(refuse_before_sending, ledger, message)
        if outbox is not None:
            await asyncio.to_thread(outbox.put, message)
        url = settings.running_nats_url()
        if url is None:
            if outbox is None:
                raise NoServer("no NATS server: start one with `mechbus up` or pass --nats-url")
            return Sent(message, kept_because="no NATS server is running")
        try:
            acks = await _send_as_sender(settings, url, message)
        except (AgencyError, PublishError, OSError, NatsError) as exc:
            if outbox is not None and not isinstance(exc, AgencyError):
                why = f"NATS at {url} did not confirm it ({type(exc).__name__})"
                return Sent(message, kept_because=why)
            if outbox is not None:  # refused to this sender: the relay must not send it either
                await asyncio.to_thread(outbox.discard, message.id)
            raise SendRefused(str(exc)) from exc
        if outbox is not None:
            await asyncio.to_thread(outbox.published, message.id)
        return Sent(message, acks)
    finally:
        if ledger is not None:
            ledger.close()


class Unplaceable(RefusalError, ValueError):
    """The ledger already shows that the hub would refuse this confirmation: nothing is sent.

    ``code`` says which rule (``not_offered``, ``already_placed``, ``no_capacity``) for a
    caller that words it in its own language; the text says it in English.
    """

    def __init__(self, code: str, detail: str, **values: Any) -> None:
        super().__init__(detail, code=code, extra=values)
        self.values = values


@dataclass(frozen=True)
class Relocation:
    """What the ledger says about one relocation, as a confirmation needs it."""

    request_id: str
    body: RelocationBody
    lines: list[PlacementLine]
    capacity: dict[str, ShelterCapacity]

    def check(self, shelter: str) -> None:
        """Refuse now what the hub would refuse (it checks again, in stream order)."""
        housed = [p.shelter for p in self.lines if p.status in ("placed", "arrived")]
        if housed:
            detail = f"relocation {self.request_id} is already placed with {housed[0]}"
            raise Unplaceable("already_placed", detail, shelter=housed[0])
        status = next((p.status for p in self.lines if p.shelter == shelter), None)
        if status != "offered":
            detail = f"{shelter} has no open offer for relocation {self.request_id} ({status})"
            raise Unplaceable("not_offered", detail, shelter=shelter)
        current = self.capacity.get(shelter)
        free, people = (current.free_spaces if current else 0), self.body.people
        if free < people:
            detail = f"{shelter} has {free} free spaces; this placement needs {people}"
            raise Unplaceable("no_capacity", detail, shelter=shelter, free=free, people=people)


def load_relocation(session: Session, request_id: str) -> Relocation | None:
    body = placements.relocation_body(session, request_id)
    lines = placements.placements(session, limit=None, request_id=request_id)
    capacity = {c.shelter: c for c in placements.shelters(session)}
    if body is None or not lines:
        return None
    return Relocation(request_id, body, lines, capacity)


def placement_confirmation(
    relocation: Relocation, shelter: str, personal: list[Any], now: datetime | None = None
) -> PlacementConfirmed:
    """The Mechanism's confirmation, with the people's details, for the hub: it alone reads it,
    and lets the shelter's copy out (and releases the other offers) once it has recorded the
    placement. Raises pydantic's ValidationError on bad details."""
    return PlacementConfirmed.model_validate(
        {
            "source": "fed.mechanism",
            "time": now or datetime.now(UTC),
            "subject": relocation.lines[0].case_ref,
            "correlation_id": relocation.request_id,
            "recipients": (shelter,),
            "data": {
                "shelter": shelter,
                "people": relocation.body.people,
                "arrival_on": relocation.body.earliest,
                "personal": personal,
            },
        }
    )


@dataclass(frozen=True)
class Placed:
    """What the hub made of a confirmation: recorded, refused (reason code: detail), or not
    known yet: kept in the outbox (``kept_because``), or not recorded before the deadline."""

    message: PlacementConfirmed
    recorded: bool = False
    refused: str | None = None
    kept_because: str | None = None


async def confirm_placement(
    settings: Settings, relocation: Relocation, shelter: str, personal: list[Any], wait: float
) -> Placed:
    """Check, hand the confirmation to the hub, and wait up to ``wait`` seconds for its
    verdict in the ledger. Raises ``Unplaceable`` before publishing anything."""
    relocation.check(shelter)
    message = placement_confirmation(relocation, shelter, personal)
    sent = await publish(settings, message)
    if sent.kept_because is not None:
        return Placed(message, kept_because=sent.kept_because)
    return await _verdict(settings, message, wait)


async def _verdict(settings: Settings, message: PlacementConfirmed, wait: float) -> Placed:
    deadline = asyncio.get_running_loop().time() + wait
    ledger = compose.open_ledger(settings)
    try:
        while True:
            verdict = await asyncio.to_thread(_recorded_or_refused, ledger, message)
            if verdict is not None:
                return verdict
            if asyncio.get_running_loop().time() >= deadline:
                return Placed(message)
            await asyncio.sleep(VERDICT_POLL)
    finally:
        ledger.close()


VERDICT_POLL = 0.1  # seconds between looks at the ledger while the hub records


def _recorded_or_refused(ledger: SqlLedger, message: PlacementConfirmed) -> Placed | None:
    [(handed_over, _)] = subjects.published_routes(message, active_registry())
    with ledger.session() as session:
        recorded, refused = recorded_or_refused(session, message.id, handed_over)
    if recorded:
        return Placed(message, recorded=True)
    return Placed(message, refused=f"{refused[0]}: {refused[1]}") if refused else None


class NotOwed(RefusalError, LookupError):
    """Pressing the button would send nothing. ``code`` says why, for a caller that words it in
    its own language: ``not_overdue`` (answered meanwhile, or not past its deadline yet),
    ``reminder_sent`` (the reminder went already; escalating may still send the next rung),
    ``ladder_done`` (every rung above the reminder has been sent)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


def find_obligation(
    ledger: SqlLedger, request_id: str, agency: str, now: datetime
) -> Obligation | None:
    """The overdue obligation of ``agency`` on ``request_id`` (its acknowledgement or answer
    first, then its earliest overdue commitment), as the sweeper sees it."""
    found = [
        ob
        for ob in SqlObligations(ledger).open_obligations(now)
        if ob.request_id == request_id and ob.agency == agency
    ]
    found.sort(key=lambda ob: (ob.clock is Clock.IMPLEMENTATION, ob.due_at))
    return found[0] if found else None


def _board_plan(sweep: SqlObligations, obligation: Obligation, now: datetime) -> BoardPlan:
    cases = [obligation.case_ref] if obligation.case_ref is not None else []
    return BoardPlan(
        tuple(sweep.upcoming_board_sessions(now)),
        environment.policy().board_cutoff(),
        sweep.board_consents(cases),
    )


def _climbed(ledger: SqlLedger, request_id: str, agency: str) -> bool:
    """Whether every rung has fired for ``agency``'s acknowledgement or answer on the request
    (the sweeper no longer lists such an obligation among the open ones)."""
    with ledger.session() as session:
        rows = session.exec(
            select(EscalationRow.clock, EscalationRow.level).where(
                EscalationRow.request_id == request_id,
                EscalationRow.agency == agency,
                EscalationRow.commitment_key == "",
            )
        )
        levels: dict[str, set[str]] = {}
        for clock, level in rows:
            levels.setdefault(clock, set()).add(level)
    return any(len(found) >= len(LADDER) for found in levels.values())


async def fire_rung_now(
    settings: Settings, request_id: str, agency: str, *, escalate: bool, now: datetime
) -> Envelope:
    """Send the reminder (or the next escalation) for an overdue obligation now, instead of at
    its scheduled time: the same rung message the sweeper would send, with the same fixed id,
    so if the sweeper sends it too one of them is absorbed as a duplicate. Whether there is
    anything to send is asked of the ledger first: a refusal does not wait on the bus."""
    ledger = compose.open_ledger(settings)
    try:
        sweep = SqlObligations(ledger)
        obligation = await asyncio.to_thread(find_obligation, ledger, request_id, agency, now)
        if obligation is None and await asyncio.to_thread(_climbed, ledger, request_id, agency):
            raise NotOwed("ladder_done", f"every rung for {agency} on {request_id} has fired")
        if obligation is None or not await asyncio.to_thread(sweep.still_owed, obligation):
            raise NotOwed("not_overdue", f"{agency} owes nothing overdue on {request_id}")
        fired = await asyncio.to_thread(sweep.fired, obligation)
        level = staff_rung(obligation, fired, now, escalate=escalate)
        if level is None and not escalate:
            raise NotOwed("reminder_sent", f"{agency} was reminded of {request_id} already")
        if level is None:
            raise NotOwed("ladder_done", f"every rung for {agency} on {request_id} has fired")
        board = await asyncio.to_thread(_board_plan, sweep, obligation, now)
    finally:
        ledger.close()
    url = settings.running_nats_url()
    if url is None:
        raise NoServer("no NATS server: start one with `mechbus up`")
    message = rung_message(fire_now(obligation, level, now, board, active_registry()))
    nc = await connect_as_hub(settings, url, "mechbus-dashboard")
    try:
        with tracing.sending(message.type, message.id):
            await jetstream.publish(
                nc.jetstream(),
                message,
                stream=StreamSpec().name,
                copy_ids=compose.copy_ids(settings),
            )
    except PublishError as exc:
        raise NoServer(str(exc)) from exc
    finally:
        await nc.drain()
    return message
