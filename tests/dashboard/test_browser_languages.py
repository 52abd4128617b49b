"""The dashboard's main pages in a real browser, in Spanish and then in English as a user
switches with the page's own button: the pending list, a case file, the Board agenda and the
scorecard, each read by a role that works with it, checked for its language and its content,
and kept as a full-page screenshot (printed at the end of the run)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters import i18n
from adapters.readmodel import narration
from tests.browser import CHROMIUM, launch_chromium
from tests.cli_processes import dashboard_url, launch, stop, wait_until_gone
from tests.dashboard.staff import PASSWORD

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]
expect = playwright_api.expect

OVERDUE_CASE = "MPDDHP-2026-0401"  # Tamaulipas never acknowledges: the most overdue request
CASE = "MPDDHP-2026-0412"  # the journalist in Guerrero: patrols, an investigation, the Board
TAMAULIPAS = "Secretaría General de Gobierno del Estado de Tamaulipas"


@pytest.fixture(scope="module")
def url(demo_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mechbus dashboard` on a copy of the demo's ledger (no bus: these pages only read)."""
    home = tmp_path_factory.mktemp("browser") / "home"
    shutil.copytree(demo_copy, home)
    (home / "nats.url").unlink(missing_ok=True)
    web = launch(["dashboard", "--port", "0"], home)
    try:
        yield dashboard_url(web)
    finally:
        stop(web)
        wait_until_gone(str(home))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        chromium = launch_chromium(pw)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_as(browser: Any, url: str) -> Iterator[Callable[[str], Any]]:
    """A page logged in through the login form as ``name`` (in Spanish, the default)."""
    contexts = []

    def log_in(name: str) -> Any:
        context = browser.new_context(locale="es-MX", viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.goto(url + "login")
        page.get_by_label("Nombre").fill(name)
        page.get_by_label("Contraseña").fill(PASSWORD)
        page.get_by_role("button", name="Iniciar sesión").click()
        expect(page).to_have_url(re.compile(r"/pending$"))
        return page

    yield log_in
    for context in contexts:
        context.close()


def to_english(page: Any) -> None:
    """The language button every page carries, as a user presses it."""
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


TIMELINE_KINDS = (
    "request.protection_measure",
    "request.investigation",
    "request.board_summons",
    "response.acknowledgement",
    "response.commitment_fulfilled",
)


def phrases(lang: str) -> list[str]:
    """What the case's timeline calls its messages, in ``lang``."""
    with i18n.speaking(lang):
        return [narration.kind_phrase(kind) for kind in TIMELINE_KINDS]


def headers(table: Any) -> list[str]:
    found: list[str] = table.locator("thead th").all_inner_texts()
    return [h.strip() for h in found]


def test_pending_list_in_spanish_and_english(
    open_as: Callable[[str], Any], screenshot: Callable[[str], Path]
) -> None:
    page = open_as("omar")  # an operator: the list, and the buttons to remind and escalate
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(
        page.get_by_role("heading", name="Solicitudes sin respuesta", exact=True)
    ).to_be_visible()
    assert headers(page.locator("table").first)[:8] == [
        *("Vencimiento", "Expediente", "Tipo", "Urgencia"),
        *("Autoridad", "Estado", "Situación", "Adeuda"),
    ]
    first = page.locator("#live-region tbody tr").first
    expect(first).to_contain_text(OVERDUE_CASE)  # the most overdue request comes first
    for text in ("vencida hace", "información", "urgente", "entregada", "acuse de recibo"):
        expect(first).to_contain_text(text)
    # the demo took it up every step of the ladder: no button that would send nothing
    expect(first).to_contain_text("Todos los escalones enviados")
    expect(first.get_by_role("button")).to_have_count(0)
    page.screenshot(path=screenshot("languages-pending-es"), full_page=True)

    to_english(page)
    expect(page.get_by_role("heading", name="Unanswered requests", exact=True)).to_be_visible()
    assert headers(page.locator("table").first)[:8] == [
        *("Overdue", "Case", "Kind", "Urgency"),
        *("Agency", "State", "Status", "Owes"),
    ]
    first = page.locator("#live-region tbody tr").first
    expect(first).to_contain_text(OVERDUE_CASE)
    for text in ("overdue", "information", "urgent", "delivered", "acknowledgement"):
        expect(first).to_contain_text(text)
    expect(first).to_contain_text("Every step sent")
    page.screenshot(path=screenshot("languages-pending-en"), full_page=True)


def test_case_file_in_spanish_and_english(
    open_as: Callable[[str], Any], screenshot: Callable[[str], Path]
) -> None:
    page = open_as("cata")  # a caseworker: the case file, with the people's names
    page.get_by_label("Expediente").fill(CASE)  # the search form of every page
    page.get_by_role("button", name="Abrir").click()
    expect(page).to_have_url(re.compile(rf"/cases/{CASE}$"))
    expect(page.get_by_role("heading", name=f"Expediente {CASE}")).to_be_visible()
    expect(page.get_by_role("heading", name="Cronología")).to_be_visible()
    timeline = page.get_by_role("table", name=re.compile("Todos los mensajes del expediente"))
    assert headers(timeline)[:5] == [
        *("Registrado", "De", "Para", "Mensaje", "Detalle"),
    ]
    for text in (*phrases("es"), "Medidas: rondines perimetrales"):
        expect(timeline).to_contain_text(text)
    agenda = page.get_by_role("table", name="Agenda de implementación")
    expect(agenda).to_contain_text("Mecanismo")
    expect(agenda).to_contain_text("responder la solicitud")
    page.screenshot(path=screenshot("languages-case-es"), full_page=True)

    to_english(page)
    expect(page.get_by_role("heading", name=f"Case {CASE}")).to_be_visible()
    timeline = page.get_by_role("table", name=re.compile("Every message of the case"))
    assert headers(timeline)[:5] == [
        *("Recorded", "From", "To", "Message", "Detail"),
    ]
    for text in (*phrases("en"), "Measures: perimeter patrols"):
        expect(timeline).to_contain_text(text)
    agenda = page.get_by_role("table", name="Implementation agenda")
    expect(agenda).to_contain_text("Mechanism")
    expect(agenda).to_contain_text("answer the request")
    page.screenshot(path=screenshot("languages-case-en"), full_page=True)


def test_board_agenda_in_spanish_and_english(
    open_as: Callable[[str], Any], screenshot: Callable[[str], Path]
) -> None:
    page = open_as("vera")  # a viewer: reads the agenda before the session
    page.get_by_role("link", name="Junta de Gobierno").click()
    expect(
        page.get_by_role("heading", name="Próxima sesión de la Junta de Gobierno")
    ).to_be_visible()
    expect(page.locator("p.summary").first).to_contain_text("Sesión JG-2026-12")
    assert headers(page.locator("table").first)[:7] == [
        *("Sesión", "Expediente", "Estado", "Institución"),
        *("Autoridad invitada", "Consentimiento", "Adeuda"),
    ]
    item = page.locator("#live-region tbody tr", has_text=OVERDUE_CASE)
    for text in ("JG-2026-12", TAMAULIPAS, "acuse de recibo", "vencida hace"):
        expect(item).to_contain_text(text)
    page.screenshot(path=screenshot("languages-board-es"), full_page=True)

    to_english(page)
    expect(page.get_by_role("heading", name="Next Governing Board session")).to_be_visible()
    assert headers(page.locator("table").first)[:7] == [
        *("Session", "Case", "State", "Institution"),
        *("Official invited", "Consent", "Owes"),
    ]
    item = page.locator("#live-region tbody tr", has_text=OVERDUE_CASE)
    for text in ("JG-2026-12", TAMAULIPAS, "acknowledgement", "overdue"):
        expect(item).to_contain_text(text)
    page.screenshot(path=screenshot("languages-board-en"), full_page=True)


def test_scorecard_in_spanish_and_english(
    open_as: Callable[[str], Any], screenshot: Callable[[str], Path]
) -> None:
    page = open_as("vera")
    page.get_by_role("link", name="Corresponsabilidad").click()
    expect(page.get_by_role("heading", name="Corresponsabilidad por estado")).to_be_visible()
    assert headers(page.locator("table").first)[:3] == [
        "Estado",
        "Solicitudes recibidas",
        "Acuse a tiempo",
    ]
    states = page.locator("table").first.locator("tbody tr")
    expect(states.first).to_contain_text("TAM")  # most open and overdue first
    expect(page.locator("figure.chart")).to_contain_text("acuse a tiempo (%)")
    # the Mechanism's own obligations still open, in the units' table below the sections
    assert any("Abiertas" in headers(t) for t in page.locator("table").all())
    page.screenshot(path=screenshot("languages-scorecard-es"), full_page=True)

    to_english(page)
    expect(page.get_by_role("heading", name="Joint responsibility by state")).to_be_visible()
    assert headers(page.locator("table").first)[:3] == [
        "State",
        "Requests received",
        "Acknowledged on time",
    ]
    expect(page.locator("table").first.locator("tbody tr").first).to_contain_text("TAM")
    expect(page.locator("figure.chart")).to_contain_text("acknowledged on time (%)")
    assert any("Still open" in headers(t) for t in page.locator("table").all())
    page.screenshot(path=screenshot("languages-scorecard-en"), full_page=True)
