"""The printable case file: its heading, timeline, agenda and signature block in the page's
language; the people's details only for a caseworker who asks, and recorded before they are
shown; the same file written by ``mechbus case REF --print``."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from adapters.ledger.access_log import accesses
from adapters.settings import Settings
from tests.cli_processes import invoke
from tests.dashboard.staff import login
from tests.ledgers import home_ledger

pytestmark = pytest.mark.e2e  # the demo's ledger

CASE = "MPDDHP-2026-0412"  # Guerrero: patrols, an investigation, a Board summons
RELOCATED = "MPDDHP-2026-0415"  # the relocation: two defenders' names sealed in the ledger
NAMES = ("Defensora A. Ejemplo", "Defensor B. Ejemplo")


def file_accesses(settings: Settings) -> list[tuple[str, str, str, str]]:
    ledger = home_ledger(settings)
    try:
        return [
            (a.actor, a.role, a.action, a.case_refs)
            for a in accesses(ledger)
            if a.action == "case_file_personal"
        ]
    finally:
        ledger.close()


def test_the_case_file_in_spanish_and_english(demo: tuple[TestClient, Settings]) -> None:
    client, _ = demo
    login(client, "vera")
    assert f'href="/cases/{CASE}/print"' in client.get(f"/cases/{CASE}").text
    page = client.get(f"/cases/{CASE}/print")
    assert page.status_code == 200
    html = page.text
    for expected in (
        "Mecanismo para la Protección de Personas Defensoras de Derechos Humanos y Periodistas",
        f"Expediente {CASE}",
        "Guerrero",  # the state
        "Secretaría General de Gobierno del Estado de Guerrero",  # agencies by institution
        "hora de la Ciudad de México (CST, UTC-06:00)",  # generated at, with its zone
        "Agenda de implementación",
        "Cronología",
        "Firma",
        "Cargo",
        "Este expediente no contiene datos personales.",
        'href="/case-file.css"',
    ):
        assert expected in html, expected
    assert "<nav" in html and 'class="noprint' in html  # hidden when printed
    assert "personal" not in html.split("<main>")[0].split("file-tools")[1].split("</nav>")[0]
    css = client.get("/case-file.css")
    assert css.headers["content-type"].startswith("text/css")
    assert 'content: "Página " counter(page) " de " counter(pages)' in css.text
    assert "@media print" in css.text

    token = client.get("/pending").text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/lang", data={"lang": "en", "back": "/pending", "csrf_token": token})
    english = client.get(f"/cases/{CASE}/print").text
    assert f"Case file {CASE}" in english and "Signature" in english
    assert "Mexico City time" in english
    assert 'counter(page) " of " counter(pages)' in client.get("/case-file.css").text


def test_personal_details_only_for_a_caseworker_who_asks_and_recorded_first(
    demo: tuple[TestClient, Settings],
) -> None:
    client, settings = demo
    login(client, "cata")
    plain = client.get(f"/cases/{RELOCATED}/print").text
    assert all(name not in plain for name in NAMES)
    assert 'name="personal"' in plain  # the caseworker's checkbox
    assert file_accesses(settings) == []

    asked = client.get(f"/cases/{RELOCATED}/print?personal=true").text
    assert all(name in asked for name in NAMES)
    assert "Confidencial: datos personales" in asked
    assert file_accesses(settings) == [("cata", "caseworker", "case_file_personal", RELOCATED)]

    # an operator who asks gets neither the details nor the checkbox, and nothing is recorded
    client.cookies.clear()
    login(client, "omar")
    refused = client.get(f"/cases/{RELOCATED}/print?personal=true").text
    assert all(name not in refused for name in NAMES)
    assert 'name="personal"' not in refused
    assert len(file_accesses(settings)) == 1


def test_mechbus_case_print_writes_the_file(demo: tuple[TestClient, Settings]) -> None:
    _, settings = demo
    target = settings.home / "expediente.html"
    done = invoke(["case", RELOCATED, "--print", str(target)], settings.home)
    assert done.exit_code == 0, done.output
    assert "Expediente guardado en" in done.output
    html = target.read_text(encoding="utf-8")
    assert f"Expediente {RELOCATED}" in html and "Firma" in html
    assert "<style>" in html  # stands alone, its pages numbered
    assert 'content: "Página " counter(page) " de " counter(pages)' in html
    assert "<nav" not in html and "<script" not in html
    assert all(name not in html for name in NAMES)

    missing = invoke(["case", "MPDDHP-1999-0001", "--print", str(target)], settings.home)
    assert missing.exit_code == 2
    assert "Ningún mensaje tiene el número de expediente MPDDHP-1999-0001" in missing.output


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium to print a PDF")
def test_mechbus_case_pdf_numbers_its_pages(demo: tuple[TestClient, Settings]) -> None:
    pypdf = pytest.importorskip("pypdf")
    _, settings = demo
    target = settings.home / "expediente.pdf"
    done = invoke(["case", CASE, "--pdf", str(target)], settings.home)
    assert done.exit_code == 0, done.output
    pages = [p.extract_text() for p in pypdf.PdfReader(target).pages]
    assert f"Expediente {CASE}" in pages[0]
    for number, text in enumerate(pages, 1):
        assert f"Página {number} de {len(pages)}" in text
    assert "Firma" in pages[-1] and "Cargo" in pages[-1]
