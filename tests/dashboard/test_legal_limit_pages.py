"""The demo's commitment beyond the legal limit, flagged on the dashboard's pages in Spanish
and English, and in the CSV files."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from adapters.settings import Settings
from tests.dashboard.staff import login

LATE_CASE = "/cases/MPDDHP-2026-0420"  # Michoacán's urgent escort, promised in two weeks


@pytest.mark.e2e
def test_the_commitment_beyond_the_limit_is_flagged_on_every_page(
    demo: tuple[TestClient, Settings],
) -> None:
    client, _ = demo
    token = login(client, "vera")
    for page in ("/commitments", LATE_CASE):
        shown = client.get(page)
        assert shown.status_code == 200, page
        assert "fuera del plazo legal" in shown.text and "Plazo legal" in shown.text, page
    on_time = client.get("/cases/MPDDHP-2026-0412").text  # Guerrero committed within the limit
    assert "fuera del plazo legal" not in on_time
    client.post("/lang", data={"lang": "en", "csrf_token": token, "back": "/commitments"})
    assert "beyond the legal limit" in client.get("/commitments").text
    rows = list(csv.DictReader(io.StringIO(client.get("/commitments?format=csv").text)))
    michoacan = "Secretaría de Gobierno del Estado de Michoacán"  # the CSV names institutions
    flags = {r["Agency"]: r["Flag"] for r in rows}  # the English session's headers
    assert flags.get(michoacan) == "beyond the legal limit"
    agenda = client.get(f"{LATE_CASE}?format=csv&table=agenda").text
    [item] = list(csv.DictReader(io.StringIO(agenda)))
    assert item["Flag"] == "beyond the legal limit" and item["Legal limit"] < item["Due"]
