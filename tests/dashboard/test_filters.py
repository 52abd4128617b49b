"""The dashboard's filters and addresses, checked as the command line checks them: a value that
names nothing is a 400 page saying what is valid in the page's language, never an empty table;
a state's name, a case number in lower case or part of a request's id lead where they mean."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.dashboard.app import create_app
from adapters.settings import load_settings
from tests.dashboard.staff import HTML, add_accounts, csrf_of, login
from tests.test_cli_filters import GUERRERO_GOVERNMENT, LONE, TWIN_A, TWIN_B, four_requests


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ledger of ``four_requests`` with the staff's accounts, made once: the pages only
    read it."""
    home = four_requests(tmp_path_factory.mktemp("filters") / "home")
    add_accounts(load_settings(home=home))
    return home


@pytest.fixture
def client(home: Path) -> Iterator[TestClient]:
    """A viewer's client of its own (its own session and language), with no bus."""
    settings = load_settings(home=home, ledger_url=None, nats_url=None)
    with TestClient(create_app(settings, poll_interval=3600)) as client:
        login(client, "vera")
        yield client


def _speak(client: TestClient, lang: str) -> None:
    token = csrf_of(client.get("/pending", headers=HTML).text)
    client.post("/lang", data={"lang": lang, "csrf_token": token, "back": "/pending"})


def _text(response: object) -> str:
    return " ".join(html.unescape(response.text).split())  # type: ignore[attr-defined]


REFUSED = [
    ("/pending?state=Guerreo", "GRO (Guerrero)"),
    ("/pending?state=Guerreo&format=csv", "OAX (Oaxaca)"),
    ("/pending?agency=gro.gobierno", f"gro.government ({GUERRERO_GOVERNMENT})"),
    ("/pending?urgency=pronto", "ordinary"),
    ("/pending?kind=patrulla", "investigation"),
    ("/commitments?state=Narnia", "CMX (Ciudad de México)"),
    ("/commitments?agency=oax.policia", "oax.prosecutor"),
    ("/dead-letters?reason=esquema", "schema"),
    ("/cases/MPDDHP-2026-9999", "MPDDHP-2026-0412"),
    ("/case?ref=MPDDHP-2026-9999", "MPDDHP-2026-0412"),
]


@pytest.mark.parametrize(("path", "valid"), REFUSED)
def test_a_mistyped_filter_is_a_400_page_naming_what_is_valid(
    client: TestClient, path: str, valid: str
) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 400, response.text[:500]
    said = _text(response)
    assert valid in said
    assert 'role="alert"' in response.text
    assert "Nada corresponde a lo solicitado" in said  # Spanish, the default
    assert "<table" not in response.text  # no table, empty or not


def test_the_explanation_speaks_the_pages_language(client: TestClient) -> None:
    spanish = _text(client.get("/pending?state=Guerreo", headers=HTML))
    assert "'Guerreo' no es una entidad federativa de México" in spanish
    assert "urgente (urgent)" in _text(client.get("/pending?urgency=pronto", headers=HTML))
    _speak(client, "en")
    english = client.get("/pending?state=Guerreo", headers=HTML)
    assert english.status_code == 400
    assert "'Guerreo' is not a state of Mexico. Write its code or its name" in _text(english)
    assert "Nothing matches what was asked" in _text(english)
    agency = _text(client.get("/pending?agency=gro.gobierno", headers=HTML))
    assert "'gro.gobierno' is not an agency in the registry. Did you mean" in agency


@pytest.mark.parametrize(
    "query",
    [
        "state=Guerrero",
        "state=gro",
        "urgency=urgente",
        "urgency=URGENT",
        "kind=medida%20de%20protecci%C3%B3n&state=Guerrero",
        "agency=GRO.Government",
    ],
)
def test_the_right_values_show_their_rows(client: TestClient, query: str) -> None:
    response = client.get(f"/pending?{query}&format=csv")
    assert response.status_code == 200
    assert TWIN_A in response.text and TWIN_B in response.text
    assert "MPDDHP-2026-0600" not in response.text  # Oaxaca's request is filtered out


def test_a_case_in_lower_case_or_by_a_request_leads_to_the_case(client: TestClient) -> None:
    lower = client.get("/cases/mpddhp-2026-0412", follow_redirects=False)
    assert lower.status_code == 303 and lower.headers["location"] == "/cases/MPDDHP-2026-0412"
    by_tail = client.get(f"/case?ref={LONE[-6:].lower()}", follow_redirects=False)
    assert by_tail.headers["location"] == "/cases/MPDDHP-2026-0500"
    page = client.get("/cases/MPDDHP-2026-0500", headers=HTML)
    assert page.status_code == 200 and "MPDDHP-2026-0500" in page.text


def test_part_of_an_id_shared_by_two_requests_lists_both(client: TestClient) -> None:
    response = client.get(f"/case?ref={TWIN_A[:12]}", headers=HTML)
    assert response.status_code == 400
    said = _text(response)
    for twin in (TWIN_A, TWIN_B):
        assert f"{twin} (MPDDHP-2026-0412; {GUERRERO_GOVERNMENT})" in said
    short = client.get(f"/case?ref={LONE[:5]}", headers=HTML)  # too short for an id
    assert short.status_code == 400
    assert f"no hay ningún expediente {LONE[:5]} en el registro" in _text(short)


def test_an_action_takes_six_characters_of_the_request(home: Path) -> None:
    settings = load_settings(home=home, ledger_url=None, nats_url=None)
    with TestClient(create_app(settings, poll_interval=3600)) as operator:
        token = login(operator, "omar")

        def remind(request_id: str) -> str:
            form = {"csrf_token": token, "request_id": request_id, "agency": "gro.government"}
            return _text(operator.post("/actions/remind", data=form, headers=HTML))

        assert "al menos 6 caracteres" in remind(TWIN_A[-5:])
        assert "más de una solicitud" in remind(TWIN_A[:10])
        # the request is found: what is said is why nothing was sent to it (not yet overdue,
        # or no bus), never that no request has those characters
        found = remind(TWIN_A[-6:])
        assert "No se envió" in found or "Nada que enviar" in found, found[-600:]
        assert "ninguna solicitud" not in found and "más de una" not in found


def test_a_month_that_is_not_one_is_said_not_shown_as_all_time(client: TestClient) -> None:
    response = client.get("/scorecard?month=2026-13", headers=HTML)
    assert response.status_code == 400
    assert "'2026-13' no es un mes: escriba AAAA-MM, p. ej. 2026-03" in _text(response)
    assert client.get("/scorecard?month=2026-03", headers=HTML).status_code == 200
