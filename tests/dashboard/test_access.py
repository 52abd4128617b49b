"""Refused access, CSRF and roles; logins, their audit, locking and cookies."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from adapters.dashboard.app import create_app
from adapters.dashboard.auth import Accounts
from adapters.ledger.tables import DashboardLoginRow
from adapters.settings import Settings, load_settings
from tests.dashboard.staff import CSVS, HTML, PAGES, PASSWORD, add_accounts, csrf_of, login
from tests.ledgers import home_ledger

# --- refused access ------------------------------------------------------------------------


@pytest.mark.e2e
def test_without_a_session_everything_is_refused(demo: tuple[TestClient, Settings]) -> None:
    client, _ = demo
    for page in [*PAGES, "/cases/MPDDHP-2026-0412", "/"]:
        response = client.get(page, headers=HTML, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", page
    for path, _ in CSVS:
        assert client.get(path).status_code == 401, path
    assert client.get("/events").status_code == 401
    token = csrf_of(client.get("/login").text)
    for action in ("/actions/remind", "/actions/escalate", "/actions/confirm-placement"):
        response = client.post(action, data={"csrf_token": token, "request_id": "x"})
        assert response.status_code == 401, action


@pytest.mark.e2e
def test_wrong_role_and_csrf_are_refused(demo: tuple[TestClient, Settings]) -> None:
    client, settings = demo
    token = login(client, "vera")
    page = client.get("/pending")
    assert "Recordar ahora" not in page.text  # a viewer is offered no action
    for action in ("/actions/remind", "/actions/escalate", "/actions/confirm-placement"):
        response = client.post(action, data={"csrf_token": token, "request_id": "x"})
        assert response.status_code == 403 and "Su rol no lo permite" in response.text
    client.post("/logout", data={"csrf_token": token})
    token = login(client, "omar")
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": token + "x"}):
        response = client.post("/actions/remind", data={**data, "request_id": "x", "agency": "y"})
        assert response.status_code == 403 and "formulario había caducado" in response.text
    # a token from before the login is worth nothing after it
    anonymous = TestClient(client.app)
    old = csrf_of(anonymous.get("/login").text)
    assert client.post("/logout", data={"csrf_token": old}).status_code == 403
    assert client.post("/lang", data={"lang": "en"}).status_code == 403
    # a disabled account's session stops working at its next request
    ledger = home_ledger(settings)
    Accounts(ledger).disable("omar")
    ledger.close()
    response = client.get("/pending", headers=HTML, follow_redirects=False)
    assert response.status_code == 303


# --- login, sessions, audit ----------------------------------------------------------------


def test_logins_are_audited_and_cookies_are_strict(ledger_url: str, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, ledger_url=ledger_url)
    add_accounts(settings)
    with TestClient(
        create_app(settings, secure_cookies=True), base_url="https://testserver"
    ) as client:
        token = csrf_of(client.get("/login").text)
        refused = client.post(
            "/login", data={"name": "vera", "password": "not it", "csrf_token": token}
        )
        assert refused.status_code == 401 and "Nombre o contraseña incorrectos" in refused.text
        unknown = client.post(
            "/login", data={"name": "nadie", "password": PASSWORD, "csrf_token": token}
        )
        assert unknown.status_code == 401
        assert client.post("/login", data={"name": "vera", "password": PASSWORD}).status_code == 403
        token = csrf_of(client.get("/login").text)
        ok = client.post(
            "/login",
            data={"name": "vera", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
        assert PASSWORD not in cookie
    ledger = home_ledger(settings)
    try:
        with ledger.session() as session:
            rows = list(session.exec(select(DashboardLoginRow)))
        assert [(r.name, r.success, r.reason) for r in rows] == [
            ("vera", False, "bad_password"),
            ("nadie", False, "unknown_user"),
            ("vera", True, "ok"),
        ]
        assert all(r.client for r in rows)
    finally:
        ledger.close()


def test_a_name_is_locked_after_five_failures_in_a_row(ledger_url: str, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, ledger_url=ledger_url)
    add_accounts(settings)
    with TestClient(create_app(settings)) as client:
        token = csrf_of(client.get("/login").text)
        for attempt in range(1, 6):
            wrong = client.post(
                "/login", data={"name": "omar", "password": "guess", "csrf_token": token}
            )
            # the fifth failure is told that the name is now locked
            said = "Demasiados intentos" if attempt == 5 else "Nombre o contraseña incorrectos"
            assert wrong.status_code == 401 and said in wrong.text
        right = client.post(
            "/login", data={"name": "omar", "password": PASSWORD, "csrf_token": token}
        )
        assert right.status_code == 401 and "Demasiados intentos fallidos" in right.text
        other = client.post(  # another name is not affected
            "/login",
            data={"name": "vera", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert other.status_code == 303
    ledger = home_ledger(settings)
    try:
        with ledger.session() as session:
            reasons = [r.reason for r in session.exec(select(DashboardLoginRow))]
        assert reasons == ["bad_password"] * 5 + ["locked", "ok"]
    finally:
        ledger.close()


@pytest.mark.e2e
def test_plain_http_cookies_are_not_marked_secure(demo: tuple[TestClient, Settings]) -> None:
    client, _ = demo
    token = csrf_of(client.get("/login").text)
    ok = client.post(
        "/login",
        data={"name": "vera", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
