"""The dashboard through FastAPI's test client: every page and action, refused access, CSRF,
need-to-know, languages, CSV, the live feed and the login audit."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select
from typer.testing import CliRunner

from adapters.cli import app as cli_app
from adapters.dashboard import commands
from adapters.dashboard.app import create_app
from adapters.dashboard.auth import Accounts, Role
from adapters.dashboard.i18n import LOCALE_DIR
from adapters.ledger.tables import DashboardLoginRow, MessageRow, OutboxRow, RecipientRow
from adapters.natsserver.server import EmbeddedNatsServer
from adapters.settings import Settings, load_settings
from bus.domain import subjects
from bus.domain.policy import Policy
from bus.domain.ports import Delivery
from bus.domain.recording import record_batch
from bus.domain.rules import Rules
from bus.domain.streams import StreamSpec
from bus.runtime import jetstream
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from schemas.capacity import CapacityBody, CapacityUpdate, PlacementOffer
from schemas.envelope import Envelope
from schemas.requests import RelocationRequest
from tests import builders as b
from tests.cli_processes import run
from tests.ledgers import home_ledger

PASSWORD = "contraseña de prueba larga"
PAGES = ["/pending", "/commitments", "/scorecard", "/shelters", "/board", "/dead-letters"]
CSVS = [
    ("/pending?format=csv", "overdue_hours,case,kind,urgency,agency,state,status,owes"),
    ("/commitments?format=csv", "overdue_hours,case,agency,action,due,status,commitment"),
    ("/scorecard?format=csv", "state,received,ack_on_time_pct,median_hours_to_ack"),
    ("/shelters?format=csv", "shelter,region,free,total,in_24h,in_72h"),
    ("/shelters?format=csv&table=placements", "case,people,from_state,shelter,status"),
    ("/board?format=csv", "session,authority_to_summon,clock,due,placed,request"),
    ("/dead-letters?format=csv", "id,received,sender,reason,subject,detail"),
    ("/cases/MPDDHP-2026-0412?format=csv", "recorded,from,to,message,detail,request"),
    ("/cases/MPDDHP-2026-0412?format=csv&table=agenda", "instruments,agency,what,due"),
]
HTML = {"Accept": "text/html"}


def add_accounts(settings: Settings) -> None:
    ledger = home_ledger(settings)
    try:
        accounts = Accounts(ledger)
        for name, role in (
            ("vera", Role.VIEWER),
            ("omar", Role.OPERATOR),
            ("cata", Role.CASEWORKER),
        ):
            accounts.add(name, role, PASSWORD)
    finally:
        ledger.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in; returns the session's CSRF token for later forms."""
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    assert response.status_code == 200 and response.url.path == "/pending", response.text
    return csrf_of(response.text)


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with every kind of row, made by playing the demo once (as test_cli_demo does)."""
    home = tmp_path_factory.mktemp("dash-demo") / "home"
    done = run(["demo"], home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    add_accounts(load_settings(home=home))
    return home


@pytest.fixture
def demo(demo_copy: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    home = tmp_path / "home"
    shutil.copytree(demo_copy, home)
    settings = load_settings(home=home, ledger_url=None, nats_url=None)
    (home / "nats.url").unlink(missing_ok=True)
    with TestClient(create_app(settings, poll_interval=3600)) as client:
        yield client, settings


# --- refused access ------------------------------------------------------------------------


def test_without_a_session_everything_is_refused(demo: tuple[TestClient, Settings]) -> None:
    client, _ = demo
    for page in [*PAGES, "/cases/MPDDHP-2026-0412", "/"]:
        response = client.get(page, headers=HTML, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", page
    for path, _ in CSVS:
        assert client.get(path).status_code == 401, path
    assert client.get("/events").status_code == 401
    token = csrf_of(client.get("/login").text)
    for action in ("/actions/remind", "/actions/escalate", "/actions/confirm-placement"):
        response = client.post(action, data={"csrf_token": token, "request_id": "x"})
        assert response.status_code == 401, action


def test_wrong_role_and_csrf_are_refused(demo: tuple[TestClient, Settings]) -> None:
    client, settings = demo
    token = login(client, "vera")
    page = client.get("/pending")
    assert "Recordar ahora" not in page.text  # a viewer is offered no action
    for action in ("/actions/remind", "/actions/escalate", "/actions/confirm-placement"):
        response = client.post(action, data={"csrf_token": token, "request_id": "x"})
        assert response.status_code == 403 and "Su rol no lo permite" in response.text
    client.post("/logout", data={"csrf_token": token})
    token = login(client, "omar")
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": token + "x"}):
        response = client.post("/actions/remind", data={**data, "request_id": "x", "agency": "y"})
        assert response.status_code == 403 and "formulario había caducado" in response.text
    # a token from before the login is worth nothing after it
    anonymous = TestClient(client.app)
    old = csrf_of(anonymous.get("/login").text)
    assert client.post("/logout", data={"csrf_token": old}).status_code == 403
    assert client.post("/lang", data={"lang": "en"}).status_code == 403
    # a disabled account's session stops working at its next request
    ledger = home_ledger(settings)
    Accounts(ledger).disable("omar")
    ledger.close()
    response = client.get("/pending", headers=HTML, follow_redirects=False)
    assert response.status_code == 303


# --- login, sessions, audit ----------------------------------------------------------------


def test_logins_are_audited_and_cookies_are_strict(ledger_url: str, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, ledger_url=ledger_url)
    add_accounts(settings)
    with TestClient(
        create_app(settings, secure_cookies=True), base_url="https://testserver"
    ) as client:
        token = csrf_of(client.get("/login").text)
        refused = client.post(
            "/login", data={"name": "vera", "password": "not it", "csrf_token": token}
        )
        assert refused.status_code == 401 and "Nombre o contraseña incorrectos" in refused.text
        unknown = client.post(
            "/login", data={"name": "nadie", "password": PASSWORD, "csrf_token": token}
        )
        assert unknown.status_code == 401
        assert client.post("/login", data={"name": "vera", "password": PASSWORD}).status_code == 403
        token = csrf_of(client.get("/login").text)
        ok = client.post(
            "/login",
            data={"name": "vera", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
        assert PASSWORD not in cookie
    ledger = home_ledger(settings)
    try:
        with ledger.session() as session:
            rows = list(session.exec(select(DashboardLoginRow)))
        assert [(r.name, r.success, r.reason) for r in rows] == [
            ("vera", False, "bad_password"),
            ("nadie", False, "unknown_user"),
            ("vera", True, "ok"),
        ]
        assert all(r.client for r in rows)
    finally:
        ledger.close()


def test_a_name_is_locked_after_five_failures_in_a_row(ledger_url: str, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, ledger_url=ledger_url)
    add_accounts(settings)
    with TestClient(create_app(settings)) as client:
        token = csrf_of(client.get("/login").text)
        for attempt in range(1, 6):
            wrong = client.post(
                "/login", data={"name": "omar", "password": "guess", "csrf_token": token}
            )
            # the fifth failure is told that the name is now locked
            said = "Demasiados intentos" if attempt == 5 else "Nombre o contraseña incorrectos"
            assert wrong.status_code == 401 and said in wrong.text
        right = client.post(
            "/login", data={"name": "omar", "password": PASSWORD, "csrf_token": token}
        )
        assert right.status_code == 401 and "Demasiados intentos fallidos" in right.text
        other = client.post(  # another name is not affected
            "/login",
            data={"name": "vera", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert other.status_code == 303
    ledger = home_ledger(settings)
    try:
        with ledger.session() as session:
            reasons = [r.reason for r in session.exec(select(DashboardLoginRow))]
        assert reasons == ["bad_password"] * 5 + ["locked", "ok"]
    finally:
        ledger.close()


def test_plain_http_cookies_are_not_marked_secure(demo: tuple[TestClient, Settings]) -> None:
    client, _ = demo
    token = csrf_of(client.get("/login").text)
    ok = client.post(
        "/login",
        data={"name": "vera", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie


# --- pages, languages, CSV -----------------------------------------------------------------


def test_every_page_in_spanish_then_english(demo: tuple[TestClient, Settings]) -> None:
    client, _ = demo
    token = login(client, "vera")
    pages = {page: client.get(page) for page in [*PAGES, "/cases/MPDDHP-2026-0412"]}
    for page, response in pages.items():
        assert response.status_code == 200, page
        assert (
            '<html lang="es">' in response.text and "Horas de la Ciudad de México" in response.text
        )
        assert response.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in response.headers["content-security-policy"]
    pending = pages["/pending"].text
    assert "Solicitudes sin respuesta" in pending and "vencida hace" in pending
    assert "tam.government" in pending  # Tamaulipas never answers in the demo
    assert "<svg" in pages["/scorecard"].text and "acuse a tiempo (%)" in pages["/scorecard"].text
    assert "Agenda de implementación" in pages["/cases/MPDDHP-2026-0412"].text
    assert "Próxima sesión de la Junta de Gobierno" in pages["/board"].text
    assert "Capacidad de las casas refugio" in pages["/shelters"].text
    filtered = client.get("/pending?state=TAM&urgency=urgent").text
    assert "tam.government" in filtered and "gro.government" not in filtered.split("<table")[1]
    switched = client.post("/lang", data={"lang": "en", "csrf_token": token, "back": "/scorecard"})
    assert switched.url.path == "/scorecard"
    assert '<html lang="en">' in switched.text and "acknowledged on time (%)" in switched.text
    pending = client.get("/pending").text
    assert "Unanswered requests" in pending and "overdue" in pending
    assert "Solicitudes sin respuesta" not in pending
    back = client.post("/lang", data={"lang": "xx", "csrf_token": token, "back": "//evil.example"})
    assert back.url.path == "/pending" and '<html lang="es">' in back.text  # unknown: Spanish


def test_every_table_downloads_as_csv(demo: tuple[TestClient, Settings]) -> None:
    client, _ = demo
    login(client, "vera")
    for path, header in CSVS:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        assert response.text.startswith(header), (path, response.text[:200])
        rows = list(csv.reader(io.StringIO(response.text)))
        assert len({len(r) for r in rows}) == 1
    pending = list(csv.DictReader(io.StringIO(client.get("/pending?format=csv").text)))
    assert pending and all(r["due"].endswith("-06:00") for r in pending)  # Mexico City


def test_personal_fields_only_for_caseworkers(demo: tuple[TestClient, Settings]) -> None:
    client, _ = demo
    login(client, "cata")
    names = "Personas nombradas en este expediente"
    # the demo's relocation case: the confirmed shelter learnt the defenders' names
    relocated = [
        r
        for r in csv.DictReader(
            io.StringIO(client.get("/shelters?format=csv&table=placements").text)
        )
    ]
    case = relocated[0]["case"]
    shown = client.get(f"/cases/{case}").text
    assert names in shown
    assert "full_name" not in shown
    for path in (f"/cases/{case}?format=csv", f"/cases/{case}?format=csv&table=agenda"):
        assert names not in client.get(path).text
    caseworker_names = re.findall(r"</code>: ([^<]+)</li>", shown)
    assert caseworker_names
    client.cookies.clear()
    login(client, "omar")
    hidden = client.get(f"/cases/{case}").text
    assert names not in hidden
    assert all(n not in hidden for n in caseworker_names)
    assert "Nombres completos" not in client.get("/shelters").text


def record(settings: Settings, messages: list[Envelope], at: datetime | None = None) -> None:
    """Record messages as the hub would (stored ``at``), at stream sequences after the
    ledger's last."""
    ledger = home_ledger(settings)
    try:
        with ledger.session() as session:
            last = session.exec(select(func.max(MessageRow.stream_seq))).one() or 0
        deliveries = [
            Delivery(subjects.routes(m, b.REGISTRY)[0][0], m.to_json(), last + 1 + i)
            for i, m in enumerate(messages)
        ]
        outcomes = record_batch(
            ledger, deliveries, at or datetime.now(UTC), Rules(b.REGISTRY, Policy.load())
        )
        assert all(o.result.value == "recorded" for o in outcomes), outcomes
    finally:
        ledger.close()


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


def _redirected_notice(response: object) -> str:
    text = response.text  # type: ignore[attr-defined]
    found = re.findall(r'<p class="notice (\w+)" role="\w+">([^<]+)</p>', text)
    assert found, text[:2000]
    return " ".join(f"{level}: {t}" for level, t in found)


def test_actions_without_a_bus_say_so(demo: tuple[TestClient, Settings]) -> None:
    client, _ = demo
    token = login(client, "omar")
    pending = list(csv.DictReader(io.StringIO(client.get("/pending?format=csv").text)))
    late = next(r for r in pending if datetime.fromisoformat(r["due"]) < datetime.now(UTC))
    response = client.post(
        "/actions/remind",
        data={"csrf_token": token, "request_id": late["request"], "agency": late["agency"]},
    )
    assert response.url.path == "/pending"
    assert "error: No se envió: no se puede contactar al bus" in _redirected_notice(response)
    response = client.post(
        "/actions/confirm-placement",
        data={"csrf_token": token, "request_id": "nothing", "shelter": "shelter.x"},
    )
    assert "Esa casa refugio no tiene una oferta abierta" in _redirected_notice(response)


def tam_request(client: TestClient) -> str:
    rows = csv.DictReader(io.StringIO(client.get("/pending?format=csv&agency=tam.government").text))
    return next(r["request"] for r in rows)


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
    assert _redirected_notice(tam).startswith("error: Nada que enviar")
    silent = b.patrol_request(to="gro.government", at=datetime.now(UTC) - timedelta(hours=2))
    record(settings, [silent], silent.time)  # urgent: its acknowledgement was due an hour ago
    target = {"request_id": silent.id, "agency": "gro.government"}
    reminded = client.post("/actions/remind", data={"csrf_token": token, **target})
    assert _redirected_notice(reminded).startswith("ok: Enviado: recordatorio para gro.government")
    escalated = client.post("/actions/escalate", data={"csrf_token": token, **target})
    assert _redirected_notice(escalated).startswith("ok: Enviado: aviso a la Secretaría")

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
    assert _redirected_notice(response).startswith("warn: Enviada, pero el bus aún no")
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
        lambda: _statuses(ledger, request.id) == {CDMX: "sent", OAXACA: "offered", NORTE: "offered"}
    )
    return bus


def _keep_in(seen: list[bytes]) -> Any:
    async def keep(msg: Any) -> None:
        seen.append(msg.data)

    return keep


def _statuses(ledger: Any, request_id: str) -> dict[str, str]:
    with ledger.session() as session:
        rows = session.exec(select(RecipientRow).where(RecipientRow.request_id == request_id))
        return {r.agency: r.status for r in rows}


async def _close_placement_bus(bus: dict[str, Any]) -> None:
    for client in bus["clients"].values():
        await client.close()
    await bus["spy"].close()
    await bus["hub"].stop()
    bus["ledger"].close()


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
                    return _redirected_notice(response)

                never_offered = confirm(CDMX)
                assert never_offered.startswith("error: Esa casa refugio no tiene una oferta")
                no_room = confirm(NORTE)
                assert no_room == (
                    "error: No se confirmó: shelter.casa-norte tiene 1 lugares libres para 2 "
                    "personas."
                )
                assert confirm(OAXACA).startswith(f"ok: Ubicación confirmada con {OAXACA}")
                assert _statuses(ledger, request.id)[OAXACA] == "placed"  # recorded already
            loop.run(hub.wait_until(lambda: _statuses(ledger, request.id)[NORTE] == "released"))
            loop.run(bus["spy"].flush())
        finally:
            loop.run(_close_placement_bus(bus))
    wire = bus["wire"]
    assert any(b"placement_confirmed" in m and b"Persona Defensora 0" in m for m in wire[OAXACA])
    assert not any(b"Persona Defensora" in m for m in wire[CDMX] + wire[NORTE])
    assert any(b"offer_released" in m for m in wire[NORTE])
    assert not any(b"offer_released" in m for m in wire[CDMX])


# --- live ------------------------------------------------------------------------------------


def test_a_new_acknowledgement_arrives_as_a_server_sent_event(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    add_accounts(settings)
    app = create_app(settings, poll_interval=3600, live_max_events=1)
    feed = app.state.dash.feed
    request = b.patrol_request(at=datetime.now(UTC) - timedelta(minutes=1))
    ledger = home_ledger(settings)
    record_batch(
        ledger,
        [Delivery(subjects.routes(request, b.REGISTRY)[0][0], request.to_json(), 1)],
        datetime.now(UTC),
        b.RULES,
    )
    with TestClient(app) as client:
        login(client, "vera")
        # the feed's first poll notes where the ledger stood; only later messages are news
        deadline = time.monotonic() + 10
        while feed._last is None:
            assert time.monotonic() < deadline, "the live feed never polled"
            client.portal.call(asyncio.sleep, 0)  # type: ignore[union-attr]
        body: list[str] = []
        reader = threading.Thread(target=lambda: body.append(client.get("/events").text))
        reader.start()
        while not feed._listeners:
            assert time.monotonic() < deadline + 10, "the event stream never listened"
            client.portal.call(asyncio.sleep, 0)  # type: ignore[union-attr]
        ack = b.acknowledgement(request.id)
        record_batch(
            ledger,
            [Delivery(subjects.routes(ack, b.REGISTRY)[0][0], ack.to_json(), 2)],
            datetime.now(UTC),
            b.RULES,
        )
        client.portal.call(feed.poll_once)  # type: ignore[union-attr]
        reader.join(timeout=30)
        assert not reader.is_alive()
    ledger.close()
    assert "event: bus" in body[0]
    assert '"type": "acknowledgement"' in body[0] and "acuse de recibo de gro.government" in body[0]
    assert "MPDDHP-2026-0412" in body[0]


# --- catalogues and accounts -----------------------------------------------------------------


def test_every_string_has_its_spanish_translation_and_the_mo_is_current(tmp_path: Path) -> None:
    pybabel = Path(sys.executable).with_name("pybabel")  # Babel's command, in this venv
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(pybabel),
            "extract",
            "-F",
            str(LOCALE_DIR.parent / "babel.cfg"),
            "-k",
            "N_",
            "--no-location",
            "--omit-header",
            "-o",
            str(pot),
            str(LOCALE_DIR.parent),
            str(LOCALE_DIR.parents[1] / "readmodel" / "columns.py"),  # the tables' headers
        ],
        capture_output=True,
        check=True,
    )
    extracted = pot.read_bytes()
    wanted = {
        m.id if isinstance(m.id, str) else m.id[0] for m in read_po(io.BytesIO(extracted)) if m.id
    }
    with open(LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.po", "rb") as po_file:
        po = read_po(po_file)
    with open(LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.mo", "rb") as mo_file:
        mo = read_mo(mo_file)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0]): m.string for m in po if m.id and m.string
    }
    assert len(wanted) > 150
    missing = wanted - set(translated)
    assert not missing, f"no Spanish for: {sorted(missing)}"
    compiled = {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in mo if m.id}
    translated = {k: tuple(v) if isinstance(v, list) else v for k, v in translated.items()}
    compiled = {k: tuple(v) if isinstance(v, list) else v for k, v in compiled.items()}
    assert compiled == translated, "the .mo is older than the .po: run pybabel compile"


def test_user_commands(tmp_path: Path) -> None:
    env = {"MECHBUS_HOME": str(tmp_path)}
    runner = CliRunner()
    added = runner.invoke(
        cli_app,
        ["dashboard", "user", "add", "lucia", "--role", "operator", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    short = runner.invoke(
        cli_app,
        ["dashboard", "user", "add", "pablo", "--role", "viewer", "--password-stdin"],
        input="corta\n",
        env=env,
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    again = runner.invoke(
        cli_app,
        ["dashboard", "user", "add", "lucia", "--role", "viewer", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert again.exit_code == 2 and "already" in again.output
    listed = runner.invoke(cli_app, ["dashboard", "user", "list"], env=env)
    assert "lucia\toperator\tenabled" in listed.output
    settings = load_settings(home=tmp_path)
    with TestClient(create_app(settings)) as client:
        login(client, "lucia")
    with TestClient(create_app(settings)) as client:
        login(client, "lucia")
    logins = runner.invoke(cli_app, ["dashboard", "user", "logins"], env=env)
    assert logins.output.count("lucia\tok") == 2
    first = runner.invoke(cli_app, ["dashboard", "user", "logins", "--limit", "1"], env=env)
    assert first.stdout.count("lucia\tok") == 1
    assert "more follow: --offset 1 for the next page, or --all" in first.stderr
    rest = runner.invoke(
        cli_app, ["dashboard", "user", "logins", "--limit", "1", "--offset", "1"], env=env
    )
    assert rest.stdout.count("lucia\tok") == 1 and "more follow" not in rest.stderr
    assert runner.invoke(cli_app, ["dashboard", "user", "disable", "lucia"], env=env).exit_code == 0
    ledger = home_ledger(settings)
    assert Accounts(ledger).get("lucia") is None
    stored = Accounts(ledger).users()[0].password_hash
    ledger.close()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
