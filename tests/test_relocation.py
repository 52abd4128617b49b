"""Shelters, capacity and relocation on a real nats-server: what reaches each shelter on the
wire, the race for the last space, and bad input from shelters."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import nats
import pytest

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DeadLetterRow, ShelterCapacityRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain.msgids import CopyIds
from bus.domain.placement import Release
from bus.domain.ports import Published, Publisher, PublishError
from bus.domain.streams import CAPACITY_BUCKET
from bus.runtime import publishing
from bus.runtime.agency import AgencyClient, IncomingRequest
from bus.runtime.hub import Hub
from schemas.capacity import OfferReleased, PlacementConfirmed
from schemas.tracking import Rejected, RejectionReason
from tests import builders as b
from tests.ledger_reads import recipient_status as status

pytestmark = pytest.mark.integration

CDMX, OAXACA, NORTE = "shelter.casa-refugio-cdmx", "shelter.albergue-oaxaca", "shelter.casa-norte"
NOW = datetime.now(UTC)


@pytest.fixture
def hub_ledger(hub: Hub, ledger: SqlLedger) -> tuple[Hub, SqlLedger]:
    return hub, ledger


def free(ledger: SqlLedger, shelter: str) -> int | None:
    with ledger.session() as s:
        row = s.get(ShelterCapacityRow, shelter)
        return row.free_spaces if row else None


async def next_request(client: AgencyClient) -> IncomingRequest:
    async for item in client.messages():
        if isinstance(item, IncomingRequest):
            return item
    raise AssertionError("unreachable")


def placement(request: object, shelter: str, people: int) -> PlacementConfirmed:
    return PlacementConfirmed(
        source="fed.mechanism",
        time=NOW,
        subject=request.subject,  # type: ignore[attr-defined]
        recipients=(shelter,),
        correlation_id=request.id,  # type: ignore[attr-defined]
        data={
            "shelter": shelter,
            "people": people,
            "arrival_on": NOW.date(),
            "personal": request.data.personal,  # type: ignore[attr-defined]
        },
    )


async def test_relocation_without_exposure(
    nats_server: EmbeddedNatsServer, hub_ledger: tuple[Hub, SqlLedger]
) -> None:
    hub, ledger = hub_ledger
    wire: dict[str, list[bytes]] = {CDMX: [], OAXACA: []}
    spy = await nats.connect(nats_server.url)  # what actually crosses the wire to shelters
    for shelter in wire:
        await spy.subscribe(f"mech.v1.to.{shelter}.>", cb=_collect(wire[shelter]))
    async with (
        await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(nats_server.url, CDMX) as cdmx,
        await AgencyClient.connect(nats_server.url, OAXACA) as oaxaca,
    ):
        await cdmx.publish_capacity(**b.SHELTER_CAPACITY)
        await oaxaca.publish_capacity(**{**b.SHELTER_CAPACITY, "region": "sur"})
        await hub.wait_until(lambda: free(ledger, CDMX) == 4 and free(ledger, OAXACA) == 4)
        kv = await mechanism.js.key_value(CAPACITY_BUCKET)
        assert json.loads((await kv.get(CDMX)).value)["free_spaces"] == 4  # type: ignore[arg-type]

        request = b.relocation_request(people=2)
        await mechanism.send(request)
        offered = await next_request(cdmx)
        declining = await next_request(oaxaca)
        assert offered.message.data.personal == ()  # type: ignore[attr-defined]
        await offered.acknowledge("Coordinación de la casa refugio")
        await cdmx.offer(request, spaces=2, available_from=NOW.date())
        await declining.acknowledge("Dirección del albergue")
        await declining.decline("insufficient_resources", "Sin personal de seguridad esta semana.")
        await hub.wait_until(lambda: status(ledger, request.id, CDMX) == "offered")

        await mechanism.send(placement(request, CDMX, 2))
        await hub.wait_until(lambda: status(ledger, request.id, CDMX) == "placed")
        assert free(ledger, CDMX) == 2
        confirmed = await anext(cdmx.messages())
        assert isinstance(confirmed, PlacementConfirmed)
        assert confirmed.data.personal[0].full_name == "Persona Defensora 0"

        await cdmx.arrived(request, 2, NOW.date())
        await hub.wait_until(lambda: status(ledger, request.id, CDMX) == "arrived")
        await cdmx.departed(request, 2, NOW.date(), "retorno seguro a su comunidad")
        await hub.wait_until(lambda: status(ledger, request.id, CDMX) == "departed")
        assert free(ledger, CDMX) == 4
    await spy.drain()

    # On the wire: no name, no address before the confirmation; only the confirmed shelter
    # ever receives them.
    for payloads in wire.values():
        docs = [json.loads(p) for p in payloads]
        requests = [d for d in docs if d["type"] == "mech.request.relocation.v1"]
        assert requests and all(not r["data"].get("personal") for r in requests)
        assert all(
            b"Calle Falsa" not in p and b"Persona Defensora" not in p
            for p in payloads
            if b"placement_confirmed" not in p
        )
    assert any(b"Persona Defensora" in p for p in wire[CDMX])
    assert not any(b"Persona Defensora" in p for p in wire[OAXACA])


def _collect(into: list[bytes]):  # type: ignore[no-untyped-def]
    async def handler(msg: nats.aio.msg.Msg) -> None:
        into.append(msg.data)

    return handler


async def test_two_confirmations_race_for_the_last_space(
    nats_server: EmbeddedNatsServer, hub_ledger: tuple[Hub, SqlLedger]
) -> None:
    hub, ledger = hub_ledger
    async with (
        await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(nats_server.url, NORTE) as norte,
    ):
        await norte.publish_capacity(**{**b.SHELTER_CAPACITY, "spaces_now": 1, "region": "norte"})
        first = b.relocation_request((NORTE,), people=1, subject="MPDDHP-2026-0501")
        second = b.relocation_request((NORTE,), people=1, subject="MPDDHP-2026-0502")
        for request in (first, second):
            await mechanism.send(request)
            await next_request(norte)
            await norte.offer(request, spaces=1, available_from=NOW.date())
        await hub.wait_until(
            lambda: (
                status(ledger, first.id, NORTE) == "offered"
                and status(ledger, second.id, NORTE) == "offered"
            )
        )
        await asyncio.gather(
            mechanism.send(placement(first, NORTE, 1)), mechanism.send(placement(second, NORTE, 1))
        )
        notice = await mechanism.next_notice()
        assert isinstance(notice, Rejected) and notice.data.reason is RejectionReason.NO_CAPACITY
        assert "has 0 free spaces" in notice.data.detail
        outcomes = sorted([status(ledger, first.id, NORTE), status(ledger, second.id, NORTE)])
        assert outcomes == ["offered", "placed"]  # exactly one won
        assert free(ledger, NORTE) == 0
        # the loser's offer is released by the Mechanism
        loser = first if status(ledger, first.id, NORTE) == "offered" else second
        await mechanism.send(
            OfferReleased(
                source="fed.mechanism",
                time=NOW,
                recipients=(NORTE,),
                correlation_id=loser.id,
                data={"reason": "Sin espacio disponible."},
            )
        )
        await hub.wait_until(lambda: status(ledger, loser.id, NORTE) == "released")


BAD = [
    ("offer for a request that does not exist", "offer", RejectionReason.UNKNOWN_REQUEST),
    ("impossible capacity figures", "capacity", RejectionReason.SCHEMA),
    ("capacity in another shelter's name", "spoof", RejectionReason.SPOOFED_SOURCE),
]


@pytest.mark.parametrize(("name", "what", "reason"), BAD, ids=lambda v: v)
async def test_bad_input_from_shelters(
    nats_server: EmbeddedNatsServer,
    hub_ledger: tuple[Hub, SqlLedger],
    name: str,
    what: str,
    reason: RejectionReason,
) -> None:
    hub, ledger = hub_ledger
    async with await AgencyClient.connect(nats_server.url, CDMX) as cdmx:
        subject = f"mech.v1.from.{CDMX}.capacity_update"
        if what == "offer":
            ghost = b.relocation_request()
            await cdmx.offer(ghost, spaces=2, available_from=NOW.date())
        elif what == "capacity":
            doc = {
                "source": CDMX,
                "time": NOW.isoformat(),
                "type": "mech.capacity.capacity_update.v1",
                "data": {**b.SHELTER_CAPACITY, "spaces_now": 9},
            }
            await cdmx.js.publish(subject, json.dumps(doc).encode(), stream="MECHBUS")
        else:
            doc = {
                "source": NORTE,
                "time": NOW.isoformat(),
                "type": "mech.capacity.capacity_update.v1",
                "data": b.SHELTER_CAPACITY,
            }
            await cdmx.js.publish(subject, json.dumps(doc).encode(), stream="MECHBUS")
        notice = await cdmx.next_notice()
    assert isinstance(notice, Rejected) and notice.data.reason is reason
    if what == "capacity":
        assert "spaces_now cannot exceed total_spaces" in notice.data.detail
    await hub.wait_until(lambda: ledger.count(DeadLetterRow) == 1)
    assert free(ledger, NORTE) is None and free(ledger, CDMX) is None


async def test_confirmation_for_a_shelter_that_made_no_offer(
    nats_server: EmbeddedNatsServer, hub_ledger: tuple[Hub, SqlLedger]
) -> None:
    hub, ledger = hub_ledger
    async with (
        await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(nats_server.url, CDMX) as cdmx,
    ):
        await cdmx.publish_capacity(**b.SHELTER_CAPACITY)
        request = b.relocation_request()
        await mechanism.send(request)
        await hub.wait_until(lambda: status(ledger, request.id, CDMX) == "sent")
        await mechanism.send(placement(request, CDMX, 2))
        notice = await mechanism.next_notice()
    assert notice.data.reason is RejectionReason.ILLEGAL_TRANSITION  # type: ignore[attr-defined]
    assert "made no offer" in notice.data.detail  # type: ignore[attr-defined]
    assert free(ledger, CDMX) == 4


async def test_a_placement_is_let_out_even_when_the_hub_fails_after_the_commit(
    nats_server: EmbeddedNatsServer,
    hub_ledger: tuple[Hub, SqlLedger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub, ledger = hub_ledger
    lost: list[str] = []
    publish_release = publishing.publish_release

    async def first_one_lost(
        publisher: Publisher, release: Release, *, copy_ids: CopyIds | None = None
    ) -> Published:
        if not lost:  # as if the hub died between the commit and this publish
            lost.append(release.subject)
            raise PublishError("connection lost")
        return await publish_release(publisher, release, copy_ids=copy_ids)

    monkeypatch.setattr(publishing, "publish_release", first_one_lost)
    async with (
        await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(nats_server.url, CDMX) as cdmx,
        await AgencyClient.connect(nats_server.url, OAXACA) as oaxaca,
    ):
        await cdmx.publish_capacity(**b.SHELTER_CAPACITY)
        request = b.relocation_request(people=2)
        await mechanism.send(request)
        for shelter in (cdmx, oaxaca):
            await next_request(shelter)
            await shelter.offer(request, spaces=2, available_from=NOW.date())
        await hub.wait_until(lambda: status(ledger, request.id, OAXACA) == "offered")
        await mechanism.send(placement(request, CDMX, 2))
        confirmed = await anext(cdmx.messages())  # after the redelivery, the same message
        assert isinstance(confirmed, PlacementConfirmed) and confirmed.data.personal
        await hub.wait_until(lambda: status(ledger, request.id, OAXACA) == "released", 30)
        released = await anext(oaxaca.messages())
        assert isinstance(released, OfferReleased)
        stream = await mechanism.js.stream_info("MECHBUS")
        kinds = [
            (await mechanism.js.get_msg("MECHBUS", seq)).subject.rsplit(".", 1)[1]
            for seq in range(1, stream.state.last_seq + 1)
        ]
    assert lost and kinds.count("offer_released") == 1 and kinds.count("placement_confirmed") == 2
    assert status(ledger, request.id, CDMX) == "placed" and free(ledger, CDMX) == 2
