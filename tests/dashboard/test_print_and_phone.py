"""The dashboard in Debian's Chromium (Playwright) over the demo's ledger: the case file printed
to PDF has its heading, numbered pages and signature block and none of the page's navigation;
on a 390x844 phone the most overdue request is on the first screen."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_processes import running_dashboard
from tests.dashboard.staff import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CASE = "MPDDHP-2026-0412"

playwright_api = pytest.importorskip("playwright.sync_api")
pypdf = pytest.importorskip("pypdf")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]


@pytest.fixture
def dashboard(demo_home: Path) -> Iterator[str]:
    """``mechbus dashboard`` on a free port over a copy of the demo's home; its URL."""
    with running_dashboard(demo_home) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


def logged_in(browser: Any, url: str, **context: Any) -> Any:
    page = browser.new_context(locale="es-MX", **context).new_page()
    page.goto(url + "login")
    page.get_by_label("Nombre").fill("vera")
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_url(re.compile(r"/pending$"))
    return page


def test_the_case_file_prints_with_numbered_pages_and_a_signature_block(
    dashboard: str, browser: Any, tmp_path: Path
) -> None:
    page = logged_in(browser, dashboard)
    page.goto(f"{dashboard}cases/{CASE}")
    page.get_by_role("link", name="Expediente para imprimir y firmar").click()
    page.wait_for_url(re.compile(rf"/cases/{CASE}/print$"))
    assert page.get_by_role("button", name="Imprimir").is_visible()  # on screen, not on paper
    pdf = page.pdf(format="Letter", print_background=True)  # the page's own @page rules apply
    (tmp_path / "expediente.pdf").write_bytes(pdf)
    print(f"case file printed to {tmp_path / 'expediente.pdf'}")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = [p.extract_text() for p in reader.pages]
    total = len(pages)
    text = "\n".join(pages)
    assert f"Expediente {CASE}" in pages[0]
    assert "Mecanismo para la Protección de Personas Defensoras" in pages[0]
    assert "Guerrero" in pages[0] and "hora de la Ciudad de México" in pages[0]
    for number, content in enumerate(pages, 1):
        assert f"Página {number} de {total}" in content, content[-200:]
    assert "Cronología" in text and "Agenda de implementación" in text
    for field in ("Nombre", "Cargo", "Firma", "Fecha"):
        assert field in pages[-1]
    # the navigation and the buttons are not printed
    for absent in ("Imprimir", "Volver al expediente", "Cerrar sesión", "Descargar CSV"):
        assert absent not in text


def test_on_a_phone_the_most_overdue_request_is_on_the_first_screen(
    dashboard: str, browser: Any, tmp_path: Path
) -> None:
    page = logged_in(
        browser,
        dashboard,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    first = page.locator("#live-region tbody tr").first
    first.wait_for()
    assert "vencida" in first.inner_text()  # most overdue first: the first row is overdue
    box = first.bounding_box()
    shot = tmp_path / "pending-phone-first-screen.png"
    page.screenshot(path=shot)
    print(f"first screen on a phone: {shot}")
    assert box is not None
    assert box["y"] >= 0 and box["y"] + min(box["height"], 200) <= 844, box
    # the navigation is one tap away, not gone
    menu = page.get_by_text("Menú", exact=True)
    menu.click()
    assert page.get_by_role("link", name="Compromisos vencidos").is_visible()
