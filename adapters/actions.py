"""Staff actions shared by the command line and the dashboard: publish a federal message
through the outbox, confirm a placement, fire an escalation rung now."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.errors import Error as NatsError

from adapters.ledger import SqlLedger
from adapters.obligations import SqlObligations
from adapters.outbox import Outbox
from adapters.settings import Settings
from adapters.tracking_views import PlacementLine
from bus import jetstream
from bus.agency import AgencyClient, AgencyError
from bus.jetstream import PublishError
from bus.ladder import Obligation, fire_now, rung_message
from bus.policy import LADDER, Clock
from bus.streams import StreamSpec
from schemas.capacity import OfferReleased, PlacementConfirmed
from schemas.envelope import Envelope
from schemas.requests import RelocationBody
from schemas.tracking import EscalationLevel


async def connect_as_hub(settings: Settings, url: str, name: str) -> Client:
    """A NATS connection as the hub's user, with its credentials and CA when the home has them."""
    options: dict[str, Any] = {}
    seed = settings.creds_for("fed.hub")
    if seed is not None:
        options["nkeys_seed"] = str(seed)
    tls = settings.tls_context()
    if tls is not None:
        options["tls"] = tls
    return await jetstream.connect(url, name=name, agency="fed.hub", **options)


class NoServer(RuntimeError):
    """No NATS server is known and the message could not be kept either."""


class Refused(RuntimeError):
    """The bus refused the message to its sender (permissions, login): it is not kept."""


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
        tls=settings.tls_context(),
        max_reconnect_attempts=2,
        copy_ids=settings.copy_ids(),
    ) as client:
        return await client.send(message)


async def publish(settings: Settings, message: Envelope) -> Sent:
    """Publish ``message``; a federal service's message is kept in the outbox first, so that
    it is recorded durably even when NATS is unreachable, and relayed when NATS is back."""
    federal = message.source.startswith("fed.")
    ledger = settings.ledger() if federal else None
    outbox = Outbox(ledger) if ledger is not None else None
    try:
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
            raise Refused(str(exc)) from exc
        if outbox is not None:
            await asyncio.to_thread(outbox.published, message.id)
        return Sent(message, acks)
    finally:
        if ledger is not None:
            ledger.close()


def placement_messages(
    request_id: str,
    shelter: str,
    body: RelocationBody,
    lines: Sequence[PlacementLine],
    personal: list[Any],
    now: datetime | None = None,
) -> list[Envelope]:
    """The confirmation to the chosen shelter (it alone gets the details) and a release to
    every other shelter that offered; raises pydantic's ValidationError on bad details."""
    common = {
        "source": "fed.mechanism",
        "time": now or datetime.now(UTC),
        "subject": lines[0].case_ref if lines else None,
        "correlation_id": request_id,
    }
    confirmation = PlacementConfirmed.model_validate(
        {
            **common,
            "recipients": (shelter,),
            "data": {
                "shelter": shelter,
                "people": body.people,
                "arrival_on": body.earliest,
                "personal": personal,
            },
        }
    )
    releases = [
        OfferReleased.model_validate(
            {
                **common,
                "recipients": (p.shelter,),
                "data": {"reason": "La reubicación se confirmó con otra casa refugio."},
            }
        )
        for p in lines
        if p.shelter != shelter and p.status == "offered"
    ]
    return [confirmation, *releases]


class NotOwed(LookupError):
    """Nothing overdue is owed by that agency on that request (answered meanwhile, or never
    past its deadline), or every rung the action could fire has fired already."""


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


def next_level(
    obligation: Obligation, fired: frozenset[EscalationLevel], *, escalate: bool
) -> EscalationLevel | None:
    """The rung a staff action fires: the reminder, or (escalating) the lowest rung above it
    that has not fired yet. A rung fires once (its id is fixed), so a second reminder is none."""
    if not escalate:
        return None if EscalationLevel.REMINDER in fired else EscalationLevel.REMINDER
    for level in LADDER:
        if level is not EscalationLevel.REMINDER and level not in fired:
            return level
    return None


async def fire_rung_now(
    settings: Settings, request_id: str, agency: str, *, escalate: bool, now: datetime
) -> Envelope:
    """Send the reminder (or the next escalation) for an overdue obligation now, instead of at
    its scheduled time: the same rung message the sweeper would send, with the same fixed id,
    so if the sweeper sends it too one of them is absorbed as a duplicate."""
    url = settings.running_nats_url()
    if url is None:
        raise NoServer("no NATS server: start one with `mechbus up`")
    ledger = settings.ledger()
    try:
        sweep = SqlObligations(ledger)
        obligation = await asyncio.to_thread(find_obligation, ledger, request_id, agency, now)
        if obligation is None or not await asyncio.to_thread(sweep.still_owed, obligation):
            raise NotOwed(f"{agency} owes nothing overdue on {request_id}")
        fired = await asyncio.to_thread(sweep.fired, obligation)
        level = next_level(obligation, fired, escalate=escalate)
        if level is None:
            raise NotOwed(f"every rung for {agency} on {request_id} has fired already")
        session = await asyncio.to_thread(sweep.next_board_session, now)
    finally:
        ledger.close()
    message = rung_message(fire_now(obligation, level, now, session))
    nc = await connect_as_hub(settings, url, "mechbus-dashboard")
    try:
        await jetstream.publish(
            nc.jetstream(), message, stream=StreamSpec().name, copy_ids=settings.copy_ids()
        )
    except PublishError as exc:
        raise NoServer(str(exc)) from exc
    finally:
        await nc.drain()
    return message
