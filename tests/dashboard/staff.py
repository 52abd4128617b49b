"""The dashboard's staff in tests: their accounts, the pages and tables they may open, and
logging in as one of them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

from fastapi.testclient import TestClient

from adapters import i18n
from adapters.dashboard.auth import Accounts, Role
from adapters.readmodel.columns import Col
from adapters.settings import Settings
from tests.ledgers import home_ledger

PASSWORD = "contraseña de prueba larga"
PAGES = ["/pending", "/commitments", "/scorecard", "/shelters", "/board", "/dead-letters"]
# Each CSV download and the start of its header, in the page's language (Spanish by default).
CSVS = [
    ("/pending?format=csv", "Vencimiento,Expediente,Tipo,Urgencia,Autoridad,Estado,Situación"),
    ("/commitments?format=csv", "Vencimiento,Expediente,Autoridad,Acción comprometida,Vence"),
    ("/scorecard?format=csv", "Estado,Solicitudes recibidas,Acuse a tiempo"),
    ("/shelters?format=csv", "Casa refugio,Región,Libres ahora,Total,En 24 h,En 72 h"),
    ("/shelters?format=csv&table=placements", "Expediente,Personas,Estado de origen,Casa refugio"),
    ("/board?format=csv", "Sesión,Expediente,Estado,Institución,Autoridad invitada"),
    ("/dead-letters?format=csv", "Número,Recibido,Remitente,Motivo,Asunto,Detalle"),
    ("/cases/MPDDHP-2026-0412?format=csv", "Registrado,De,Para,Mensaje,Detalle,Solicitud"),
    ("/cases/MPDDHP-2026-0412?format=csv&table=agenda", "Instrumentos,Autoridad,Lo que se adeuda"),
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


def csv_rows(text: str, table: Sequence[Col], lang: str = "es") -> list[dict[str, str]]:
    """A CSV download's rows keyed by the columns' keys (its header holds their labels in the
    page's language ``lang``); the values as the file has them (codes in words)."""
    with i18n.speaking(lang):
        keys = {i18n.gettext(c.label): c.key for c in table}
    return [
        {keys.get(k, k): v for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))
    ]
