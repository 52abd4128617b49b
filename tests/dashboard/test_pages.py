"""Every page in Spanish and English, every table as CSV, personal fields for caseworkers
only, and the live feed."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.dashboard.app import create_app
from adapters.settings import Settings, load_settings
from bus.domain import subjects
from bus.domain.ports import Delivery
from bus.domain.recording import record_batch
from tests import builders as b
from tests.dashboard.staff import CSVS, PAGES, add_accounts, login
from tests.ledgers import home_ledger

# --- pages, languages, CSV -----------------------------------------------------------------


@pytest.mark.e2e
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
    # Tamaulipas never answers in the demo
    assert "Secretaría General de Gobierno del Estado de Tamaulipas" in pending.split("<table")[1]
    assert "<svg" in pages["/scorecard"].text and "acuse a tiempo (%)" in pages["/scorecard"].text
    case = pages["/cases/MPDDHP-2026-0412"].text
    assert "Agenda de implementación" in case
    for measure in ("Medidas cautelares de la CIDH", "MC-123-24", "2024-03-01", "2024-03-12"):
        assert measure in case  # the demo's IACHR measure, beside the Mechanism's items
    units = pages["/scorecard"].text.split("Plazos del propio Mecanismo, por unidad")[1]
    assert "Unidad de Recepción de Casos y Reacción Rápida del Mecanismo" in units
    assert "Cumplidas a tiempo" in units and "Vencidas" not in units.split("<table")[0]
    assert "Agenda de implementación" in pages["/cases/MPDDHP-2026-0412"].text
    board = pages["/board"].text
    assert "Próxima sesión de la Junta de Gobierno" in board and "Sesión JG-2026-12" in board
    for label in ("Institución", "Autoridad invitada", "Consentimiento", "Pendiente de la sesión"):
        assert label in board
    # Tamaulipas on the agenda, with no consent for its case: nobody invited
    assert "Secretaría General de Gobierno del Estado de Tamaulipas" in board
    assert "MPDDHP-2026-0401" in board
    assert "Capacidad de las casas refugio" in pages["/shelters"].text
    filtered = client.get("/pending?state=TAM&urgency=urgent").text
    listed = filtered.split("<table")[1]
    assert "Estado de Tamaulipas" in listed and "Estado de Guerrero" not in listed
    switched = client.post("/lang", data={"lang": "en", "csrf_token": token, "back": "/scorecard"})
    assert switched.url.path == "/scorecard"
    assert '<html lang="en">' in switched.text and "acknowledged on time (%)" in switched.text
    pending = client.get("/pending").text
    assert "Unanswered requests" in pending and "overdue" in pending
    assert "Solicitudes sin respuesta" not in pending
    back = client.post("/lang", data={"lang": "xx", "csrf_token": token, "back": "//evil.example"})
    assert back.url.path == "/pending" and '<html lang="es">' in back.text  # unknown: Spanish


@pytest.mark.e2e
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
    assert pending and all(r["Vence"].endswith("-06:00") for r in pending)  # Mexico City


@pytest.mark.e2e
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
    case = relocated[0]["Expediente"]
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
    assert (
        '"type": "acknowledgement"' in body[0]
        and "acuse de recibo de Secretaría General de Gobierno del Estado de Guerrero" in body[0]
    )
    assert "MPDDHP-2026-0412" in body[0]
