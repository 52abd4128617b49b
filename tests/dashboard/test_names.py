"""Staff read institutions by name: no page or CSV file of the dashboard, in either language,
shows an agency id where a name belongs (ids stay where machines read them: form values,
links, attributes)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from adapters.readmodel.record_columns import BOARD, TIMELINE
from adapters.settings import Settings
from schemas.registry import active_registry
from tests.dashboard.staff import csv_rows, login

CASES = ("MPDDHP-2026-0412", "MPDDHP-2026-0401")
PAGES = ["/pending", "/commitments", "/scorecard", "/shelters", "/board"]
PAGES += [f"/cases/{case}" for case in CASES]
CSVS = [
    "/pending?format=csv",
    "/commitments?format=csv",
    "/scorecard?format=csv",
    "/shelters?format=csv",
    "/shelters?format=csv&table=placements",
    "/board?format=csv",
]
CSVS += [f"/cases/{case}?format=csv" for case in CASES]
CSVS += [f"/cases/{case}?format=csv&table=agenda" for case in CASES]


def agency_ids(text: str) -> set[str]:
    """The registry's ids that ``text`` names as words (not inside a NATS subject)."""
    ids = "|".join(re.escape(a.id) for a in active_registry())
    return set(re.findall(rf"(?<![\w.-])({ids})(?![\w-])", text))


class _Text(HTMLParser):
    """What a person reads on a page: the text between tags, never an attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def shown(html: str) -> str:
    reader = _Text()
    reader.feed(html)
    return "\n".join(reader.parts)


def test_the_check_finds_an_id_in_text_and_not_in_attributes() -> None:
    html = '<td>gro.government</td><input type="hidden" value="tam.government">'
    assert agency_ids(shown(html)) == {"gro.government"}
    assert agency_ids("mech.v1.to.gro.government.information") == set()


@pytest.mark.e2e
@pytest.mark.parametrize("lang", ["es", "en"])
def test_no_page_nor_csv_shows_an_agency_id(lang: str, demo: tuple[TestClient, Settings]) -> None:
    client, _ = demo
    token = login(client, "omar")  # an operator: the pages carry their action forms too
    client.post("/lang", data={"lang": lang, "csrf_token": token, "back": "/pending"})
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200 and f'<html lang="{lang}">' in response.text, path
        assert agency_ids(shown(response.text)) == set(), path
    for path in CSVS:
        response = client.get(path)
        assert response.status_code == 200, path
        assert agency_ids(response.text) == set(), (path, response.text[:300])
    pending = client.get("/pending").text
    # the ids are still there for the machine: the filter's values, the actions' hidden fields
    assert 'value="tam.government"' in pending
    assert "Secretaría General de Gobierno del Estado de Tamaulipas" in shown(pending)


@pytest.mark.e2e
def test_the_case_timeline_reads_as_sentences_in_both_languages(
    demo: tuple[TestClient, Settings],
) -> None:
    client, _ = demo
    token = login(client, "vera")
    tamaulipas = "Secretaría General de Gobierno del Estado de Tamaulipas"
    spanish = shown(client.get("/cases/MPDDHP-2026-0401").text)
    assert f"Recordatorio enviado a la {tamaulipas}: acuse vencido" in spanish
    assert f"Incluido en el informe mensual: acuse vencido de la {tamaulipas}" in spanish
    assert "recordatorio: acuse vencido" in spanish and "escalamiento" in spanish
    assert "tracking.escalated" not in spanish and "to_agency" not in spanish
    rows = csv_rows(client.get("/cases/MPDDHP-2026-0401?format=csv").text, TIMELINE)
    assert {"from", "to", "message", "detail"} <= set(rows[0])
    assert any(r["detail"].startswith(f"Recordatorio enviado a la {tamaulipas}") for r in rows)
    client.post("/lang", data={"lang": "en", "csrf_token": token, "back": "/pending"})
    english = shown(client.get("/cases/MPDDHP-2026-0401").text)
    assert f"Reminder sent to {tamaulipas}: acknowledgement overdue" in english
    assert "request for information" in english and "escalated" in english


@pytest.mark.e2e
def test_the_board_invites_the_head_of_the_institution(
    demo: tuple[TestClient, Settings],
) -> None:
    """With the beneficiary's consent, the official invited is the head of the institution
    that owes ("Titular de la ..."); without it, nobody."""
    client, _ = demo
    login(client, "vera")
    rows = csv_rows(client.get("/board?format=csv").text, BOARD)
    assert rows, "the demo places Tamaulipas on the Board's agenda"
    registry = active_registry()
    heads = {a.name: a.head for a in registry}
    for row in rows:
        assert row["institution"] in heads, row
        if row["consent"] == "sí":  # True, in words
            assert row["invited"] == heads[row["institution"]], row
            assert row["invited"].startswith("Titular de la ")
        else:
            assert row["invited"] == "", row
