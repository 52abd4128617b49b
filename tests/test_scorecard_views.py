"""The scorecard as staff see it: state rows hold only state authorities, shelters and federal
units have sections of their own, early fulfilment counts as kept, and the monthly chart
reads worst first with every name whole and a 0 % drawn."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adapters.cli import app
from adapters.dashboard.app import create_app
from adapters.readmodel.chart import scorecard_svg
from adapters.readmodel.figure_columns import SCORECARD_DATA
from adapters.readmodel.report import write_report
from adapters.readmodel.scorecard import state_scores, state_scores_from_facts
from adapters.settings import Settings, load_settings
from bus.domain.scorecard import Section, StateScore
from tests import builders as b
from tests.dashboard.staff import add_accounts, csv_rows, login
from tests.ledgers import home_ledger, record

SVG = "{http://www.w3.org/2000/svg}"


def score(state: str, ack: tuple[int, int], kept: tuple[int, int], overdue: int = 0) -> StateScore:
    return StateScore(state, ack[1] or 1, ack[0], ack[1], None, kept[1], kept[0], overdue, 0, 0)


def test_the_chart_puts_the_worst_state_first_and_draws_a_zero() -> None:
    scores = [
        score("OAX", (4, 4), (1, 1)),
        score("VER", (0, 3), (0, 0)),  # nothing acknowledged on time: 0 %, no commitments
        score("GRO", (1, 2), (2, 2)),
        StateScore("ZAC", 0, 0, 0, None, 0, 0, 0, 0, 0),  # nothing to draw
    ]
    svg = ET.fromstring(scorecard_svg(scores, "Corresponsabilidad por estado, 2026-03"))
    names = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "state"]
    assert names == ["VER Veracruz de Ignacio de la Llave", "GRO Guerrero", "OAX Oaxaca"]
    [zero] = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "zero"]
    assert float(zero.get("width", "0")) >= 3 and zero.get("fill") == "#b00020"
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "0 %" in texts and "50 %" in texts and "100 %" in texts
    assert "sin datos" in texts  # Veracruz made no commitment: no bar, and it says so
    # the longest name fits before the bars start: the bars begin past its last letter
    bars_at = float(zero.get("x", "0"))
    assert bars_at >= 10 + 7 * len("VER Veracruz de Ignacio de la Llave")
    assert int(svg.get("width", "0")) >= bars_at + 380


SENT_AGO = timedelta(days=10)  # when the requests of ``filled`` were sent


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return filled(load_settings(home=tmp_path / "home", ledger_url=None, nats_url=None))


def filled(settings: Settings) -> Settings:
    """Guerrero fulfils two commitments weeks before they are due; a shelter in Mexico City
    never answers a relocation; Mexico City's government acknowledges on time."""
    home_ledger(settings).close()
    now = datetime.now(UTC)
    sent = now - SENT_AGO
    ask = b.patrol_request(at=sent)
    cdmx = b.patrol_request("cmx.government", at=sent, subject="MPDDHP-2026-0420")
    shelter = b.relocation_request(("shelter.casa-refugio-cdmx",), at=sent)
    record(settings, [ask, cdmx, shelter], sent)
    record(
        settings,
        [
            b.receipt(ask.id),
            b.acknowledgement(ask.id),
            b.acceptance(ask.id),
            b.commitment(ask.id, "C1", due=now + timedelta(days=20), at=sent),
            b.commitment(ask.id, "C2", due=now + timedelta(days=25), at=sent),
            b.acknowledgement(cdmx.id, by="cmx.government"),
        ],
        sent + timedelta(minutes=30),
    )
    record(
        settings, [b.fulfilled(ask.id, "C1"), b.fulfilled(ask.id, "C2")], now - timedelta(days=1)
    )
    add_accounts(settings)
    return settings


def test_the_database_and_the_reference_agree_on_sections_and_early_fulfilment(
    ledger_url: str, tmp_path: Path
) -> None:
    home = filled(load_settings(home=tmp_path / "home", ledger_url=ledger_url, nats_url=None))
    ledger = home_ledger(home)
    now = datetime.now(UTC)
    try:
        with ledger.session() as session:
            scores = state_scores(session, asof=now)
            assert scores == state_scores_from_facts(session, asof=now)
    finally:
        ledger.close()
    rows = {(s.section, s.state, s.agency): s for s in scores}
    assert set(rows) == {
        (Section.STATE, "CMX", None),
        (Section.STATE, "GRO", None),
        (Section.SHELTER, "CMX", "shelter.casa-refugio-cdmx"),
    }
    gro = rows[(Section.STATE, "GRO", None)]
    assert (gro.commitments_kept_on_time, gro.commitments_due) == (2, 2)
    assert gro.kept_on_time_pct == 100.0
    cmx = rows[(Section.STATE, "CMX", None)]
    # the government's own answer is overdue; the shelter's silence is not Mexico City's
    assert cmx.requests_received == 1 and cmx.open_overdue == 1
    assert rows[(Section.SHELTER, "CMX", "shelter.casa-refugio-cdmx")].open_overdue == 1


def test_the_command_line_shows_sections_and_refuses_an_unknown_one(home: Settings) -> None:
    runner = CliRunner()
    where = ["--home", str(home.home)]
    listed = runner.invoke(app, ["scorecard", "--json", *where])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines() if line.startswith("{")]
    assert [(r["section"], r["state"], r["agency"]) for r in rows] == [
        ("state", "CMX", None),
        ("state", "GRO", None),
        ("shelter", "CMX", "shelter.casa-refugio-cdmx"),
    ]
    assert rows[1]["kept_on_time_pct"] == 100.0
    shelters = runner.invoke(app, ["scorecard", "--section", "shelter", "--json", *where])
    assert shelters.exit_code == 0, shelters.output
    [only] = [json.loads(line) for line in shelters.output.splitlines()]
    assert only["section"] == "shelter" and only["agency"] == "shelter.casa-refugio-cdmx"
    table = runner.invoke(app, ["scorecard", *where], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    states, shelter_part = table.output.split("Casas refugio")[:2]
    assert "GRO" in states and "Casa refugio" in shelter_part  # by name, not id
    wrong = runner.invoke(app, ["scorecard", "--section", "shelters", *where])
    assert wrong.exit_code == 2
    assert "state, shelter, federal" in wrong.output


def test_the_report_and_the_dashboard_score_shelters_apart(home: Settings, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    ledger = home_ledger(home)
    try:
        with ledger.session() as session:
            # The month the requests were sent in: in the first days of a month, the last one.
            month = f"{now - SENT_AGO:%Y-%m}"
            report = write_report(session, month, tmp_path / "report", now)
    finally:
        ledger.close()
    markdown = report.markdown.read_text()
    states, shelters = markdown.split("## Casas refugio")
    assert "| GRO Guerrero |" in states and "| CMX Ciudad de México |" in states
    assert "Casa refugio (ejemplo), Ciudad de México" not in states
    assert "| Casa refugio (ejemplo), Ciudad de México | 1 |" in shelters
    with TestClient(create_app(home, poll_interval=3600)) as client:
        login(client, "vera")
        page = client.get("/scorecard").text
        states_part, shelters_part = page.split('<h2 id="shelters">Casas refugio</h2>')
        assert "Cifras por estado" in states_part
        assert "Casa refugio (ejemplo), Ciudad de México" not in states_part
        assert "Casa refugio (ejemplo), Ciudad de México" in shelters_part
        got = csv_rows(client.get("/scorecard?format=csv").text, SCORECARD_DATA)
    assert {(r["section"], r["state"]) for r in got} == {  # the sections in words
        ("autoridades estatales", "CMX"),
        ("autoridades estatales", "GRO"),
        ("casas refugio", "CMX"),
    }
