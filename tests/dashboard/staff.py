"""The dashboard's staff in tests: their accounts, the pages and tables they may open, and
logging in as one of them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from adapters.dashboard.auth import Accounts, Role
from adapters.settings import Settings
from tests.ledgers import home_ledger

PASSWORD = "contraseña de prueba larga"
PAGES = ["/pending", "/commitments", "/scorecard", "/shelters", "/board", "/dead-letters"]
CSVS = [
    ("/pending?format=csv", "overdue_hours,case,kind,urgency,agency,state,status,owes"),
    ("/commitments?format=csv", "overdue_hours,case,agency,action,due,status,commitment"),
    ("/scorecard?format=csv", "state,received,ack_on_time_pct,median_hours_to_ack"),
    ("/shelters?format=csv", "shelter,region,free,total,in_24h,in_72h"),
    ("/shelters?format=csv&table=placements", "case,people,from_state,shelter,status"),
    ("/board?format=csv", "session,case,state,institution,invited,consent,owes"),
    ("/dead-letters?format=csv", "id,received,sender,reason,subject,detail"),
    ("/cases/MPDDHP-2026-0412?format=csv", "recorded,from,to,message,detail,request"),
    ("/cases/MPDDHP-2026-0412?format=csv&table=agenda", "instruments,agency,what,due"),
]
HTML = {"Accept": "text/html"}


def add_accounts(settings: Settings) -> None:
    ledger = home_ledger(settings)
    try:
        accounts = Accounts(ledger)
        for name, role in (
            ("vera", Role.VIEWER),
            ("omar", Role.OPERATOR),
            ("cata", Role.CASEWORKER),
        ):
            accounts.add(name, role, PASSWORD)
    finally:
        ledger.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in; returns the session's CSRF token for later forms."""
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    assert response.status_code == 200 and response.url.path == "/pending", response.text
    return csrf_of(response.text)
