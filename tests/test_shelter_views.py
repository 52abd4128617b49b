"""Shelters: a placement request asks only shelters that offer what the people need, and a
shelter that never reported its capacity is listed as such instead of missing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adapters.cli import app
from adapters.dashboard.app import create_app
from adapters.readmodel.figure_columns import SHELTERS
from adapters.settings import Settings, load_settings
from bus.domain.capacity import ShelterCapacity, matching, mismatch
from schemas.capacity import CapacityBody, CapacityUpdate
from schemas.registry import active_registry
from schemas.requests import RelocationBody
from tests import builders as b
from tests.dashboard.staff import add_accounts, csv_rows, login
from tests.ledgers import home_ledger, record

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def shelter(name: str, *services: str) -> ShelterCapacity:
    body = CapacityBody(**{**b.SHELTER_CAPACITY, "services": services})
    return ShelterCapacity.reported(name, body, NOW - timedelta(hours=1))


def need(*needs: str) -> RelocationBody:
    return RelocationBody(
        people=1,
        adults=1,
        children=0,
        needs=needs,
        origin_state="GRO",
        earliest=NOW.date(),
        expected_days=30,
    )


@pytest.mark.parametrize(
    ("services", "needs", "why"),
    [
        (("alimentación",), ("atención psicológica",), "does not offer atención psicológica"),
        (("atención psicológica", "alimentación"), ("atención psicológica",), None),
        # typed by different people: case, accents and spaces do not matter
        (("Atencion  Psicologica",), ("atención psicológica",), None),
        ((), (), None),  # nothing needed, nothing to offer
        (
            ("asesoría jurídica",),
            ("asesoría jurídica", "atención médica"),
            "does not offer atención médica",
        ),
        ((), ("alimentación",), "does not offer alimentación"),
    ],
)
def test_a_shelter_is_asked_only_for_services_it_declares(
    services: tuple[str, ...], needs: tuple[str, ...], why: str | None
) -> None:
    assert mismatch(shelter("shelter.x", *services), need(*needs), NOW) == why


def test_the_shelter_that_offers_only_food_is_not_a_candidate_for_psychological_care() -> None:
    food = shelter("shelter.albergue-oaxaca", "alimentación")
    care = shelter("shelter.casa-refugio-cdmx", "atención psicológica", "alimentación")
    chosen = matching([food, care], need("atención psicológica"), NOW)
    assert [c.shelter for c in chosen] == ["shelter.casa-refugio-cdmx"]
    assert [c.shelter for c in matching([food, care], need("alimentación"), NOW)] == [
        "shelter.albergue-oaxaca",
        "shelter.casa-refugio-cdmx",
    ]


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    """Two shelters have reported; shelter.casa-norte never has."""
    settings = load_settings(home=tmp_path / "home", ledger_url=None, nats_url=None)
    home_ledger(settings).close()
    add_accounts(settings)
    now = datetime.now(UTC)
    record(
        settings,
        [
            CapacityUpdate(source=s, time=now, data=CapacityBody(**b.SHELTER_CAPACITY))
            for s in ("shelter.casa-refugio-cdmx", "shelter.albergue-oaxaca")
        ],
        now,
    )
    return settings


def test_a_shelter_that_never_reported_is_listed_as_such(home: Settings) -> None:
    runner = CliRunner()
    where = ["--home", str(home.home)]
    listed = runner.invoke(app, ["shelters", "--json", *where])
    assert listed.exit_code == 0, listed.output
    rows = {r["shelter"]: r for r in map(json.loads, listed.output.splitlines())}
    assert set(rows) == {
        "shelter.albergue-oaxaca",
        "shelter.casa-norte",
        "shelter.casa-refugio-cdmx",
    }
    norte = rows["shelter.casa-norte"]
    assert norte["report"] == "no_report" and norte["free"] is None and norte["region"] == "norte"
    assert rows["shelter.casa-refugio-cdmx"]["report"] is None
    table = runner.invoke(app, ["shelters", *where])
    [line] = [x for x in table.output.splitlines() if "│ norte" in x]  # narrow: words wrap
    assert "│ sin" in line and "STALE" not in line
    with TestClient(create_app(home, poll_interval=3600)) as client:
        login(client, "vera")
        page = client.get("/shelters").text
        names = {a.id: a.name for a in active_registry()}
        at = page.index(names["shelter.casa-norte"])  # the page names the shelter
        row = page[page.rindex("<tr>", 0, at) : page.index("</tr>", at)]
        assert "sin reporte" in row
        got = csv_rows(client.get("/shelters?format=csv").text, SHELTERS)
    assert {r["shelter"]: r["report"] for r in got} == {  # names, and the code in words
        names["shelter.albergue-oaxaca"]: "",
        names["shelter.casa-norte"]: "sin reporte",
        names["shelter.casa-refugio-cdmx"]: "",
    }
