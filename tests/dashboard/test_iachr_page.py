"""The case page lists the IACHR measures its requests are linked to, with both dates, in
Spanish, and an MC the ledger does not know yet as "sin registrar"."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from adapters.dashboard.app import create_app
from adapters.settings import load_settings
from bus.domain import subjects
from bus.domain.ports import Delivery
from bus.domain.recording import Result, record_batch
from schemas.iachr import IachrMeasureRegistered
from tests import builders as b
from tests.dashboard.staff import add_accounts, login
from tests.ledgers import home_ledger


def test_the_case_page_shows_each_linked_measure_with_its_dates(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    add_accounts(settings)
    data = b.patrol_request().data.model_dump()
    measure = IachrMeasureRegistered(
        source="fed.mechanism",
        time=b.T0,
        data={
            "measure": "MC-123-24",
            "granted_on": date(2024, 3, 1),
            "notified_on": date(2024, 3, 12),
            "state": "GRO",
            "beneficiaries": 1,
        },
    )
    messages = [
        measure,
        b.patrol_request(data={**data, "iachr_precautionary_measure": "MC-123-24"}),
        b.patrol_request(data={**data, "iachr_precautionary_measure": "MC-9-25"}),
    ]
    deliveries = [
        Delivery(subjects.routes(m, b.REGISTRY)[0][0], m.to_json(), seq)
        for seq, m in enumerate(messages, start=1)
    ]
    ledger = home_ledger(settings)
    try:
        outcomes = record_batch(ledger, deliveries, datetime.now(UTC), b.RULES)
        assert all(o.result is Result.RECORDED for o in outcomes)
    finally:
        ledger.close()
    # the days since the notice, counted just before the page and just after it: a page that
    # runs across midnight (UTC) shows one of the two
    days = {(datetime.now(UTC).date() - date(2024, 3, 12)).days}
    with TestClient(create_app(settings, poll_interval=3600)) as client:
        login(client, "vera")
        page = client.get("/cases/MPDDHP-2026-0412")
    days.add((datetime.now(UTC).date() - date(2024, 3, 12)).days)
    assert page.status_code == 200
    text = page.text
    assert any(str(n) in text for n in days)
    for shown in (
        "Medidas cautelares de la CIDH",
        "Otorgada por la CIDH",
        "Notificada a SEGOB por la SRE",
        "Días desde la notificación",
        "MC-123-24",
        "2024-03-01",
        "2024-03-12",
        "MC-9-25",
        "sin registrar",
        "Mecanismo + CIDH MC-123-24",
    ):
        assert shown in text, shown
