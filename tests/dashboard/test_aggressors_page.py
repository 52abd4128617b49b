"""The dashboard shows presumed aggressors: on the case page (by name, who named it, when) and
as a mark on the pending rows addressed to a named agency."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from adapters.settings import Settings
from bus.domain import subjects
from bus.domain.ports import Delivery
from bus.domain.recording import record_batch
from schemas.tracking import PresumedAggressor
from tests import builders as b
from tests.dashboard.staff import login
from tests.ledgers import home_ledger

pytestmark = pytest.mark.e2e  # on the ledger the demo played

CASE = "MPDDHP-2026-0401"  # the demo's Tamaulipas case: its prosecutor is named
MARK = "Presunta agresora en este caso"


def test_the_case_page_shows_who_is_named_by_whom_and_when(
    demo: tuple[TestClient, Settings],
) -> None:
    client, _ = demo
    login(client, "vera")
    page = client.get(f"/cases/{CASE}").text
    assert "Presuntas agresoras" in page
    assert "Fiscalía General de Justicia del Estado de Tamaulipas" in page
    assert "señalada por Titular de la Coordinación Ejecutiva Nacional" in page
    assert "tam.prosecutor" not in page.split("Presuntas agresoras")[1].split("</ul>")[0]
    assert "Presuntas agresoras" not in client.get("/cases/MPDDHP-2026-0412").text


def test_pending_rows_to_a_named_agency_are_marked(demo: tuple[TestClient, Settings]) -> None:
    client, settings = demo
    login(client, "vera")
    assert MARK not in client.get("/pending").text  # the demo never asks its prosecutor
    # Tamaulipas' own government, silent on the case, is named too
    named = PresumedAggressor.model_validate(
        {
            "source": "fed.mechanism",
            "time": datetime.now(UTC),
            "subject": CASE,
            "data": {"agency": "tam.government", "action": "set", "official_role": "Titular"},
        }
    )
    [(subject, _)] = subjects.routes(named, b.REGISTRY)
    ledger = home_ledger(settings)
    try:
        record_batch(
            ledger, [Delivery(subject, named.to_json(), 10**9)], datetime.now(UTC), b.RULES
        )
    finally:
        ledger.close()
    page = client.get("/pending?agency=tam.government").text
    assert page.count(MARK) == 1
    assert MARK not in client.get("/pending?agency=gro.prosecutor").text
