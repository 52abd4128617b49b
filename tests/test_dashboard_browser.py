"""The dashboard in a real browser (Debian's Chromium driven by Playwright): log in, watch an
overdue request arrive live while the agency stays silent, switch to English, download CSV.
Screenshots of the main pages are saved under test-artifacts/ and listed at the end of the run."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, launch_chromium
from tests.cli_processes import (
    MECHBUS,
    SEND_PATROL,
    dashboard_url,
    env_of,
    launch,
    run,
    stop,
    wait_until_gone,
)

PASSWORD = "contraseña de prueba larga"
CASE = "MPDDHP-2026-0999"

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]


@pytest.fixture
def bus_and_dashboard(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """`mechbus up` with a one-second urgent acknowledgement clock, a silent Guerrero
    government, and `mechbus dashboard` on a free port with one operator account."""
    home = tmp_path / "home"
    shipped = (Path(__file__).parents[1] / "bus" / "data" / "policy.toml").read_text()
    policy = tmp_path / "policy.toml"
    policy.write_text(shipped.replace('urgent = "1h"', 'urgent = "1s"'))
    assert run(["creds", "issue", "gro.government"], home).returncode == 0
    assert run(["db", "upgrade"], home).returncode == 0  # the accounts' tables, before `up`
    added = subprocess.run(
        [*MECHBUS, "dashboard", "user", "add", "ana", "--role", "operator", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env_of(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    procs = []
    try:
        hub = launch(["up", "--policy", str(policy), "--sweep-interval", "0.2"], home)
        procs.append(hub)
        assert hub.stdout is not None
        for line in hub.stdout:
            if "hub up on" in line:
                break
        else:
            pytest.fail("mechbus up did not start")
        procs.append(
            launch(["agency", "run", "--as", "gro.government", "--profile", "silent"], home)
        )
        web = launch(["dashboard", "--port", "0"], home)
        procs.append(web)
        yield home, dashboard_url(web)
    finally:
        for proc in reversed(procs):
            stop(proc)
        wait_until_gone(str(home))


def test_live_overdue_request_english_and_csv(
    bus_and_dashboard: tuple[Path, str], screenshot: Callable[[str], Path]
) -> None:
    home, url = bus_and_dashboard
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            context = browser.new_context(accept_downloads=True, locale="es-MX")
            page = context.new_page()
            page.goto(url + "login")
            expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
            page.screenshot(path=screenshot("login"))
            page.get_by_label("Nombre").fill("ana")
            page.get_by_label("Contraseña").fill(PASSWORD)
            page.get_by_role("button", name="Iniciar sesión").click()
            expect(page).to_have_url(re.compile(r"/pending$"))
            expect(page.get_by_role("heading", name="Solicitudes sin respuesta")).to_be_visible()

            # The Mechanism asks Guerrero for patrols; Guerrero's government stays silent.
            sent = run(
                [
                    *SEND_PATROL,
                    "--case",
                    CASE,
                    "--instructions",
                    "Rondines cada 4 horas.",
                    "--urgent",
                ],
                home,
            )
            assert sent.returncode == 0, sent.stdout + sent.stderr
            # Without reloading: the sweeper's reminder arrives and the row shows it overdue.
            live = page.locator("#live-list")
            expect(live).to_contain_text("recordatorio: acuse vencido", timeout=60_000)
            row = page.locator("#live-region tbody tr", has_text=CASE)
            expect(row).to_contain_text("vencida hace", timeout=30_000)
            expect(row).to_contain_text("Secretaría General de Gobierno del Estado de Guerrero")
            page.screenshot(path=screenshot("pending"), full_page=True)

            for path, name in (
                ("commitments", "commitments"),
                ("scorecard", "scorecard"),
                (f"cases/{CASE}", "case"),
                ("shelters", "shelters"),
                ("board", "board"),
                ("dead-letters", "dead-letters"),
            ):
                page.goto(url + path)
                expect(page.locator("h1")).to_be_visible()
                page.screenshot(path=screenshot(name), full_page=True)

            page.goto(url + "pending")
            page.get_by_role("button", name="English").click()
            expect(page.get_by_role("heading", name="Unanswered requests")).to_be_visible()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("#live-region tbody tr", has_text=CASE)).to_contain_text("overdue")
            page.screenshot(path=screenshot("pending-en"), full_page=True)

            with page.expect_download() as download:
                page.get_by_role("link", name="Download CSV").click()
            text = Path(download.value.path()).read_text(encoding="utf-8")
            assert text.startswith("Overdue,Case,Kind,Urgency,Agency,State,Status,Owes")  # en
            assert CASE in text and "Secretaría General de Gobierno del Estado de Guerrero" in text

            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
            )
            mobile = phone.new_page()
            mobile.context.add_cookies(context.cookies())
            mobile.goto(url + "pending")
            expect(mobile.locator("#live-region tbody tr", has_text=CASE)).to_be_visible()
            mobile.screenshot(path=screenshot("pending-phone"), full_page=True)
        finally:
            browser.close()
