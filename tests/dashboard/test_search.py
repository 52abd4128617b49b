"""The dashboard's search: the box in every page's header and its results page (Spanish and
English), and the person search, for caseworkers only, recorded before its results show."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from adapters.ledger.tables import PersonalAccessRow
from adapters.settings import Settings
from tests.dashboard.staff import csrf_of, login
from tests.ledgers import home_ledger

pytestmark = pytest.mark.e2e

DEFENDER_A, DEFENDER_B = "Defensora A. Ejemplo", "Defensor B. Ejemplo"  # the demo's relocation


def _accesses(settings: Settings) -> list[PersonalAccessRow]:
    ledger = home_ledger(settings)
    try:
        with ledger.session() as session:
            return list(session.exec(select(PersonalAccessRow)).all())
    finally:
        ledger.close()


def test_the_search_box_finds_cases_words_and_institutions_in_spanish_and_english(
    demo: tuple[TestClient, Settings],
) -> None:
    client, _ = demo
    token = login(client, "vera")
    pending = client.get("/pending").text
    assert 'action="/search"' in pending and ">Buscar</button>" in pending
    by_case = client.get("/search", params={"q": "0412"}).text
    assert "Solicitudes encontradas para “0412”" in by_case
    assert 'href="/cases/MPDDHP-2026-0412"' in by_case
    assert "número de expediente" in by_case
    by_institution = client.get("/search", params={"q": "fiscalia guerrero"}).text
    table = by_institution.split("<tbody>")[1]
    assert "Fiscalía General del Estado de Guerrero" in table
    assert "Secretaría General de Gobierno" not in table
    nothing = client.get("/search", params={"q": "helicóptero"}).text
    assert "No se encontró nada para “helicóptero”." in nothing
    assert "A person's name" not in nothing and 'name="person"' not in nothing  # a viewer
    csv = client.get("/search", params={"q": "0412", "format": "csv"})
    assert (
        csv.text.splitlines()[0]
        == "Expediente,Solicitud,Tipo,Institución,Autoridad,Estado,Situación,Enviada,Encontrada por"
    )
    client.post("/lang", data={"lang": "en", "csrf_token": token, "back": "/search"})
    english = client.get("/search", params={"q": "0412"}).text
    assert '<html lang="en">' in english and "Requests found for “0412”" in english
    assert "case number" in english


def test_a_viewer_cannot_search_people_nor_is_recorded(demo: tuple[TestClient, Settings]) -> None:
    client, settings = demo
    token = login(client, "vera")
    refused = client.post("/search/person", data={"person": "Ejemplo", "csrf_token": token})
    assert refused.status_code == 403
    assert DEFENDER_A not in refused.text
    assert _accesses(settings) == []


def test_a_caseworker_finds_one_person_and_the_search_is_recorded_without_the_name(
    demo: tuple[TestClient, Settings],
) -> None:
    client, settings = demo
    login(client, "cata")
    page = client.get("/search").text
    assert 'name="person"' in page and "nunca el nombre" in page
    token = csrf_of(page)
    found = client.post(
        "/search/person", data={"person": "ejemplo, DEFENSORA a", "csrf_token": token}
    )
    assert found.status_code == 200
    rows = found.text.split("<tbody>")[1]
    assert DEFENDER_A in rows and "MPDDHP-2026-0415" in rows
    assert DEFENDER_B not in found.text  # the other person on the same case
    [access] = _accesses(settings)
    assert (access.actor, access.role, access.channel, access.action) == (
        "cata",
        "caseworker",
        "dashboard",
        "person_search",
    )
    assert access.case_refs == "MPDDHP-2026-0415" and access.matches > 0
    assert "ejemplo" not in str(access.model_dump()).casefold()
    unsigned = client.post("/search/person", data={"person": "Ejemplo"})
    assert unsigned.status_code == 403  # no CSRF token: refused, not recorded
    assert len(_accesses(settings)) == 1


def test_a_case_opened_with_its_people_is_recorded_for_a_caseworker_only(
    demo: tuple[TestClient, Settings],
) -> None:
    client, settings = demo
    login(client, "omar")
    assert DEFENDER_A not in client.get("/cases/MPDDHP-2026-0415").text
    assert _accesses(settings) == []
    client.cookies.clear()
    login(client, "cata")
    assert DEFENDER_A in client.get("/cases/MPDDHP-2026-0415").text
    [access] = _accesses(settings)
    assert (access.actor, access.action, access.case_refs) == (
        "cata",
        "case_personal",
        "MPDDHP-2026-0415",
    )
