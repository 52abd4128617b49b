"""``mechbus forecast`` and the dashboard's projection page, on a ledger with a known history:
Guerrero acknowledges within the hour, Tamaulipas never answers."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adapters.cli import app
from adapters.dashboard.app import create_app
from adapters.readmodel.forecast_tables import CSV_HEADER
from adapters.settings import load_settings
from tests import forecast_history as known
from tests.cli_processes import run
from tests.dashboard.staff import add_accounts, login
from tests.ledgers import home_ledger


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home whose ledger holds six weeks of history ending an hour ago."""
    home = tmp_path / "home"
    ledger = home_ledger(load_settings(home=home))
    known.fill(ledger, now=datetime.now(UTC) - timedelta(hours=1))
    ledger.close()
    return home


def mechbus(home: Path, *args: str, officers: str | None = None) -> object:
    env = {"MECHBUS_HOME": str(home), "MECHBUS_LEDGER_URL": None, "MECHBUS_OFFICERS": officers}
    return CliRunner(env=env).invoke(app, ["forecast", *args])


def test_the_command_projects_in_spanish(home: Path) -> None:
    result = mechbus(home, "--officers", "2")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = result.output  # type: ignore[attr-defined]
    assert "Proyección de la carga de casos" in out and "no una predicción" in out
    for months in (3, 6, 12):
        assert f"En {months} meses" in out
    assert "Personas beneficiarias por persona funcionaria" in out
    assert "Guerrero" in out and "Tamaulipas" in out
    silence = out.split("Estados cuyo silencio pesa más")[1]
    assert silence.index("Tamaulipas") < silence.index("Guerrero")
    assert "(de --officers)" in out


def test_json_and_csv(home: Path) -> None:
    result = mechbus(home, "--json", officers="4")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    document = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert document["officers"] == 4 and document["weeks_of_history"] == known.WEEKS
    assert document["open_cases_now"] == sum(known.INTAKE) - 1
    assert [h["months"] for h in document["horizons"]] == [3, 6, 12]
    twelve = document["horizons"][-1]
    assert twelve["open_cases"]["low"] <= twelve["open_cases"]["median"]
    assert twelve["open_cases"]["median"] <= twelve["open_cases"]["high"]
    assert document["silence"][0]["name"] == "Tamaulipas"
    shares = {s["state"]: s["unanswered_share"] for s in twelve["states"]}
    assert shares == {"GRO": 0.0, "TAM": 1.0}
    result = mechbus(home, "--csv", "--officers", "4")
    rows = list(csv.reader(io.StringIO(result.stdout)))  # type: ignore[attr-defined]
    assert tuple(rows[0]) == CSV_HEADER
    assert {r[2] for r in rows[1:]} == {
        "intake",
        "open_cases",
        "federal_load",
        "per_officer",
        "open_requests",
    }


@pytest.mark.parametrize(
    ("args", "officers", "says"),
    [
        (["--officers", "0"], None, "--officers"),
        (["--officers", "2", "--weeks-of-history", "-3"], None, "--weeks-of-history"),
        (["--officers", "2", "--weeks-of-history", "2"], None, "--weeks-of-history"),
        ([], None, "MECHBUS_OFFICERS"),
        ([], "none", "MECHBUS_OFFICERS"),
        (["--json", "--csv", "--officers", "2"], None, "--json"),
    ],
)
def test_bad_input_is_refused_saying_what_is_valid(
    home: Path, args: list[str], officers: str | None, says: str
) -> None:
    result = mechbus(home, *args, officers=officers)
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert says in result.output  # type: ignore[attr-defined]


def test_a_young_ledger_is_refused(tmp_path: Path) -> None:
    home_ledger(load_settings(home=tmp_path / "empty")).close()
    result = mechbus(tmp_path / "empty", "--officers", "2")
    assert result.exit_code == 1
    assert "demasiado corto" in result.output  # type: ignore[attr-defined]


@pytest.mark.e2e
def test_the_command_as_a_subprocess(home: Path) -> None:
    done = run(["forecast", "--officers", "3", "--json"], home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["officers"] == 3
    refused = run(["forecast", "--officers", "0"], home)
    assert refused.returncode == 2 and "--officers" in refused.stderr


def test_the_page_shows_the_chart_and_the_tables(home: Path) -> None:
    settings = load_settings(home=home)
    add_accounts(settings)
    with TestClient(create_app(settings, poll_interval=3600)) as client:
        stranger = client.get("/forecast?officers=2", headers={"Accept": "text/html"})
        assert stranger.url.path == "/login"  # staff only
        login(client, "vera")
        asked = client.get("/forecast")
        assert asked.status_code == 200 and "MECHBUS_OFFICERS" in asked.text  # no staff count
        assert 'href="/forecast"' in asked.text  # in the navigation
        page = client.get("/forecast?officers=2&weeks=26")
        assert page.status_code == 200
        html = page.text
        assert "<svg" in html and 'class="band"' in html and "<script" not in html.split("<main")[1]
        assert "Proyección de la carga de casos" in html and "intervalo del 80 %" in html
        assert html.count('<table class="horizon">') == 3
        silence = html.split('<table class="silence">')[1]
        assert silence.index("Tamaulipas") < silence.index("Guerrero")
        assert "Bajo (10 %)" in html and "Alto (90 %)" in html
        bad = client.get("/forecast?officers=0")
        assert bad.status_code == 400 and "un número entero de 1 o más" in bad.text
        exported = client.get("/forecast?officers=2&format=csv")
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.text.startswith(",".join(CSV_HEADER))
        english = client.post(
            "/lang",
            data={"lang": "en", "csrf_token": login(client, "vera"), "back": "/forecast"},
        )
        assert "Caseload projection" in english.text
