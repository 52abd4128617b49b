"""The dashboard's actions: without a bus, published on the bus, and a placement confirmed
against a running hub."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient

from adapters.dashboard import commands
from adapters.dashboard.app import create_app
from adapters.ledger.tables import OutboxRow
from adapters.natsserver.server import EmbeddedNatsServer
from adapters.settings import Settings, load_settings
from bus.domain.streams import StreamSpec
from bus.runtime import jetstream
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from schemas.capacity import CapacityBody, CapacityUpdate, PlacementOffer
from schemas.registry import active_registry
from schemas.requests import RelocationRequest
from tests import builders as b
from tests.dashboard.staff import add_accounts, login
from tests.ledger_reads import recipient_statuses
from tests.ledgers import home_ledger, record


def offered_relocation(settings: Settings) -> RelocationRequest:
    """A relocation that shelter.casa-refugio-cdmx has offered to take, and has room for."""
    now = datetime.now(UTC)
    request = b.relocation_request(at=now - timedelta(minutes=5))
    shelter = "shelter.casa-refugio-cdmx"
    offer = PlacementOffer.model_validate(
        {
            "source": shelter,
            "time": now,
            "subject": request.subject,
            "correlation_id": request.id,
            "causation_id": request.id,
            "data": {"spaces": 2, "available_from": now.date()},
        }
    )
    room = CapacityUpdate(source=shelter, time=now, data=CapacityBody(**b.SHELTER_CAPACITY))
    record(
        settings,
        [
            room,
            request,
            b.receipt(request.id, shelter),
            b.acknowledgement(request.id, shelter),
            offer,
        ],
    )
    return request


# --- actions ---------------------------------------------------------------------------------


def redirected_notice(response: object) -> str:
    text = response.text  # type: ignore[attr-defined]
    found = re.findall(r'<p class="notice (\w+)" role="\w+">([^<]+)</p>', text)
    assert found, text[:2000]
    return " ".join(f"{level}: {t}" for level, t in found)


@pytest.mark.e2e
def test_actions_without_a_bus_say_so(demo: tuple[TestClient, Settings]) -> None:
    client, settings = demo
    token = login(client, "omar")
    # every overdue request of the demo has had its reminder: one that has not, an hour late
    silent = b.patrol_request(to="gro.government", at=datetime.now(UTC) - timedelta(hours=2))
    record(settings, [silent], silent.time)
    pending = list(csv.DictReader(io.StringIO(client.get("/pending?format=csv").text)))
    [late] = [r for r in pending if r["Solicitud"] == silent.id]
    assert late["Siguiente escalón"] == "recordatorio"
    agency = "gro.government"  # the CSV names the institution; the page's form sends its id
    assert late["Autoridad"] == active_registry().get(agency).name
    response = client.post(
        "/actions/remind",
        data={"csrf_token": token, "request_id": late["Solicitud"], "agency": agency},
    )
    assert response.url.path == "/pending"
    assert "error: No se envió: no se puede contactar al bus" in redirected_notice(response)
    response = client.post(
        "/actions/confirm-placement",
        data={"csrf_token": token, "request_id": "nothing", "shelter": "shelter.x"},
    )
    # no such request: said as such, before any shelter is looked at
    assert "error: no hay ninguna solicitud nothing en el registro" in redirected_notice(response)


def tam_request(client: TestClient) -> str:
    rows = csv.DictReader(io.StringIO(client.get("/pending?format=csv&agency=tam.government").text))
    return next(r["Solicitud"] for r in rows)  # the Spanish CSV's header


async def _stream_messages(url: str) -> list[bytes]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(StreamSpec().name)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            found.append((await js.get_msg(StreamSpec().name, seq)).data or b"")
        return found
    finally:
        await nc.drain()


async def _make_stream(url: str) -> None:
    nc = await jetstream.connect(url, name="test", agency="fed.hub")
    try:
        await jetstream.ensure_stream(nc.jetstream(), StreamSpec())
    finally:
        await nc.drain()


@pytest.mark.e2e
def test_actions_are_published_on_the_bus(
    demo: tuple[TestClient, Settings],
    nats_server: EmbeddedNatsServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Remind, escalate and confirm go out as bus messages (read back from the stream)."""
    monkeypatch.setattr(commands, "CONFIRM_WAIT", 0.0)  # no hub runs here to record it
    client, old = demo
    asyncio.run(_make_stream(nats_server.url))
    settings = Settings(old.home, old.ledger_url, nats_server.url)
    client.app.state.dash.settings = settings  # type: ignore[attr-defined]
    token = login(client, "cata")
    # Tamaulipas climbed the whole ladder in the demo: nothing is left to send it
    tam = client.post(
        "/actions/escalate",
        data={"csrf_token": token, "request_id": tam_request(client), "agency": "tam.government"},
    )
    assert redirected_notice(tam).startswith("error: Nada que enviar")
    silent = b.patrol_request(to="gro.government", at=datetime.now(UTC) - timedelta(hours=2))
    record(settings, [silent], silent.time)  # urgent: its acknowledgement was due an hour ago
    target = {"request_id": silent.id, "agency": "gro.government"}
    reminded = client.post("/actions/remind", data={"csrf_token": token, **target})
    guerrero = "Secretaría General de Gobierno del Estado de Guerrero"  # named, never the id
    assert redirected_notice(reminded).startswith(f"ok: Enviado: recordatorio para {guerrero}")
    escalated = client.post("/actions/escalate", data={"csrf_token": token, **target})
    assert redirected_notice(escalated).startswith("ok: Enviado: aviso a la Secretaría")

    # a relocation with an open offer, made here so the demo's confirmed one stays as it was
    request = offered_relocation(settings)
    response = client.post(
        "/actions/confirm-placement",
        data={
            "csrf_token": token,
            "request_id": request.id,
            "shelter": "shelter.casa-refugio-cdmx",
            "names": "Persona Defensora Uno\nPersona Defensora Dos",
        },
    )
    # handed to the hub, which is not running here: the shelter has nothing yet
    assert redirected_notice(response).startswith("warn: Enviada, pero el bus aún no")
    on_the_bus = asyncio.run(_stream_messages(nats_server.url))
    assert any(b"placement_confirmed" in m and b"Persona Defensora Uno" in m for m in on_the_bus)
    assert any(b"acknowledgement_overdue" in m and silent.id.encode() in m for m in on_the_bus)
    assert any(b"escalated" in m and b"authority_notice" in m for m in on_the_bus)
    ledger = home_ledger(settings)
    assert ledger.count(OutboxRow) >= 1  # kept first, marked published on the PubAck
    ledger.close()


class LoopThread:
    """An event loop on a thread of its own, for a hub and agencies beside the TestClient."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> LoopThread:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)


CDMX, OAXACA, NORTE = "shelter.casa-refugio-cdmx", "shelter.albergue-oaxaca", "shelter.casa-norte"


async def _placement_bus(url: str, settings: Settings) -> dict[str, Any]:
    """A hub on ``settings``' ledger, and a relocation for two that Oaxaca and Norte offered
    to take (Norte has one free space) and Mexico City never answered; a spy on the wire."""
    bus: dict[str, Any] = {"wire": {CDMX: [], OAXACA: [], NORTE: []}}
    bus["ledger"] = ledger = home_ledger(settings)
    bus["hub"] = hub = Hub(ledger, url, defer_unknown_for=0.3)
    await hub.start()
    bus["spy"] = spy = await nats.connect(url)
    for shelter, seen in bus["wire"].items():
        await spy.subscribe(f"mech.v1.to.{shelter}.>", cb=_keep_in(seen))
    mechanism = await AgencyClient.connect(url, "fed.mechanism")
    bus["clients"] = clients = {s: await AgencyClient.connect(url, s) for s in bus["wire"]}
    for shelter, spaces in ((CDMX, 4), (OAXACA, 4), (NORTE, 1)):
        await clients[shelter].publish_capacity(**{**b.SHELTER_CAPACITY, "spaces_now": spaces})
    bus["request"] = request = b.relocation_request((CDMX, OAXACA, NORTE))
    await mechanism.send(request)
    await mechanism.close()
    for shelter in (OAXACA, NORTE):
        await clients[shelter].offer(request, 2, datetime.now(UTC).date())
    await hub.wait_until(
        lambda: (
            recipient_statuses(ledger, request.id)
            == {CDMX: "sent", OAXACA: "offered", NORTE: "offered"}
        )
    )
    return bus


def _keep_in(seen: list[bytes]) -> Any:
    async def keep(msg: Any) -> None:
        seen.append(msg.data)

    return keep


async def _close_placement_bus(bus: dict[str, Any]) -> None:
    for client in bus["clients"].values():
        await client.close()
    await bus["spy"].close()
    await bus["hub"].stop()
    bus["ledger"].close()


@pytest.mark.integration
def test_confirming_a_placement_from_the_dashboard(
    tmp_path: Path, nats_server: EmbeddedNatsServer
) -> None:
    """The page refuses what the hub would refuse, before anything is sent, and says
    "confirmed" only once the hub has recorded the placement and let the details out."""
    settings = load_settings(home=tmp_path / "home", nats_url=nats_server.url)
    add_accounts(settings)
    with LoopThread() as loop:
        bus = loop.run(_placement_bus(nats_server.url, settings))
        request, hub, ledger = bus["request"], bus["hub"], bus["ledger"]
        try:
            with TestClient(create_app(settings, poll_interval=3600)) as client:
                token = login(client, "cata")

                def confirm(shelter: str) -> str:
                    form = {"csrf_token": token, "request_id": request.id, "shelter": shelter}
                    names = "Persona Defensora 0\nPersona Defensora 1"
                    response = client.post(
                        "/actions/confirm-placement", data={**form, "names": names}
                    )
                    return redirected_notice(response)

                never_offered = confirm(CDMX)
                assert never_offered.startswith("error: Esa casa refugio no tiene una oferta")
                no_room = confirm(NORTE)
                assert no_room == (
                    "error: No se confirmó: Casa de acogida (ejemplo), Nuevo León tiene 1 "
                    "lugares libres para 2 "
                    "personas."
                )
                oaxaca = "Albergue para personas defensoras (ejemplo), Oaxaca"
                assert confirm(OAXACA).startswith(f"ok: Ubicación confirmada con {oaxaca}")
                assert (
                    recipient_statuses(ledger, request.id)[OAXACA] == "placed"
                )  # recorded already
            loop.run(
                hub.wait_until(lambda: recipient_statuses(ledger, request.id)[NORTE] == "released")
            )
            loop.run(bus["spy"].flush())
        finally:
            loop.run(_close_placement_bus(bus))
    wire = bus["wire"]
    assert any(b"placement_confirmed" in m and b"Persona Defensora 0" in m for m in wire[OAXACA])
    assert not any(b"Persona Defensora" in m for m in wire[CDMX] + wire[NORTE])
    assert any(b"offer_released" in m for m in wire[NORTE])
    assert not any(b"offer_released" in m for m in wire[CDMX])
