"""The pending list says how far up the escalation ladder each request went, and offers
"remind now" / "escalate now" only where pressing them would send something."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adapters.cli import app
from adapters.dashboard.app import create_app
from adapters.settings import Settings, load_settings
from bus.domain.ladder import Obligation, Standing, rung_message, rungs_due, staff_rung, standing
from bus.domain.policy import Clock, Policy
from schemas.envelope import Urgency
from schemas.tracking import EscalationLevel as L
from tests import builders as b
from tests.dashboard.staff import add_accounts, login
from tests.dashboard.test_actions import redirected_notice
from tests.ledgers import home_ledger, record

POLICY = Policy.load()
T = datetime(2026, 3, 2, 10, tzinfo=UTC)
H = timedelta(hours=1)
# acknowledgement owed from 10:00, due 11:00: rungs at 11:00, 11:30, 12:00 and 13:00
OWED = Obligation("R1", "gro.government", Clock.ACKNOWLEDGEMENT, T, T + H, Urgency.URGENT)


@pytest.mark.parametrize(
    ("fired", "expected"),
    [
        ({}, Standing(None, None, L.REMINDER, T + H)),
        ({L.REMINDER: T + H}, Standing(L.REMINDER, T + H, L.AUTHORITY_NOTICE, T + 1.5 * H)),
        (
            {L.REMINDER: T + H, L.AUTHORITY_NOTICE: T + 1.5 * H},
            Standing(L.AUTHORITY_NOTICE, T + 1.5 * H, L.BOARD_AGENDA, T + 2 * H),
        ),
        # escalated early by staff before the reminder: the reminder is still next
        (
            {L.AUTHORITY_NOTICE: T + 1.1 * H},
            Standing(L.AUTHORITY_NOTICE, T + 1.1 * H, L.REMINDER, T + H),
        ),
        (
            {level: T + 3 * H for level in L},
            Standing(L.MONTHLY_REPORT, T + 3 * H, None, None),
        ),
    ],
)
def test_where_an_obligation_stands_on_the_ladder(
    fired: dict[L, datetime], expected: Standing
) -> None:
    assert standing(OWED, fired, POLICY) == expected


@pytest.mark.parametrize(
    ("now", "fired", "remind", "escalate"),
    [
        (T + 0.5 * H, set(), None, None),  # not due yet: nothing to send
        (T + H, set(), L.REMINDER, L.AUTHORITY_NOTICE),  # at the deadline
        (T + 1.2 * H, {L.REMINDER}, None, L.AUTHORITY_NOTICE),  # reminded already
        (T + 2.5 * H, {L.REMINDER, L.AUTHORITY_NOTICE}, None, L.BOARD_AGENDA),
        (T + 4 * H, set(L), None, None),  # the whole ladder climbed
        (T + 4 * H, {L.AUTHORITY_NOTICE, L.BOARD_AGENDA, L.MONTHLY_REPORT}, L.REMINDER, None),
    ],
)
def test_a_staff_action_sends_only_a_rung_not_sent_yet(
    now: datetime, fired: set[L], remind: L | None, escalate: L | None
) -> None:
    assert staff_rung(OWED, fired, now, escalate=False) is remind
    assert staff_rung(OWED, fired, now, escalate=True) is escalate


@pytest.fixture
def home(tmp_path: Path) -> tuple[Settings, dict[str, str]]:
    """Four urgent requests: Guerrero's overdue with nothing sent, Veracruz's reminded,
    Oaxaca's not due yet, Tamaulipas's with the whole ladder sent."""
    settings = load_settings(home=tmp_path / "home", ledger_url=None, nats_url=None)
    home_ledger(settings).close()
    add_accounts(settings)
    now = datetime.now(UTC)
    ids = {}
    for agency, ago in (
        ("gro.government", 2 * H),
        ("ver.government", 2 * H),
        ("oax.government", timedelta(minutes=5)),
        ("tam.government", 5 * H),
    ):
        sent = now - ago
        request = b.patrol_request(agency, at=sent, subject=f"MPDDHP-2026-{len(ids) + 500}")
        record(settings, [request], sent)
        ids[agency] = request.id
        ob = Obligation(request.id, agency, Clock.ACKNOWLEDGEMENT, sent, sent + H, Urgency.URGENT)
        rungs = rungs_due(ob, POLICY, now, b.REGISTRY)
        chosen = (
            rungs[:1] if agency == "ver.government" else rungs if agency == "tam.government" else []
        )
        for rung in chosen:
            record(settings, [rung_message(rung)], rung.at)
    return settings, ids


def test_the_pending_list_says_the_last_and_the_next_rung(
    home: tuple[Settings, dict[str, str]],
) -> None:
    settings, _ = home
    out = CliRunner().invoke(app, ["pending", "--json", "--home", str(settings.home)])
    assert out.exit_code == 0, out.output
    rows = {r["agency"]: r for r in map(json.loads, out.output.splitlines())}
    gro, ver, oax, tam = (
        rows[a] for a in ("gro.government", "ver.government", "oax.government", "tam.government")
    )
    assert (gro["last_rung"], gro["next_rung"]) == (None, "reminder")
    assert gro["next_rung_at"] == gro["due"]  # the reminder is due at the deadline
    assert (ver["last_rung"], ver["next_rung"]) == ("reminder", "authority_notice")
    sent = datetime.fromisoformat(ver["last_rung_at"])
    due = datetime.fromisoformat(ver["due"])
    assert abs(sent - due) < timedelta(seconds=1)  # fired at its scheduled time
    assert datetime.fromisoformat(ver["next_rung_at"]) == due + 0.5 * H
    assert (oax["last_rung"], oax["next_rung"]) == (None, "reminder")
    assert datetime.fromisoformat(oax["next_rung_at"]) > datetime.now(UTC)
    assert (tam["last_rung"], tam["next_rung"], tam["next_rung_at"]) == (
        "monthly_report",
        None,
        None,
    )
    table = CliRunner().invoke(app, ["pending", "--csv", "--home", str(settings.home)])
    header = next(csv.reader(io.StringIO(table.output)))
    assert header[-4:] == [  # the columns' names, in Spanish by default
        "Último escalón enviado",
        "Enviado el",
        "Siguiente escalón",
        "Fecha del siguiente escalón",
    ]


def test_remind_now_is_offered_only_where_it_would_send(
    home: tuple[Settings, dict[str, str]],
) -> None:
    settings, ids = home
    with TestClient(create_app(settings, poll_interval=3600)) as client:
        token = login(client, "omar")
        page = client.get("/pending").text
        rows = {agency: _row_of(page, request_id) for agency, request_id in ids.items()}
        assert "Recordar ahora" in rows["gro.government"]
        assert "Escalar ahora" in rows["gro.government"]
        assert "Recordar ahora" not in rows["ver.government"]  # reminded already
        assert "Escalar ahora" in rows["ver.government"]
        assert "Recordar ahora" not in rows["oax.government"]  # not due yet
        assert "Escalar ahora" not in rows["oax.government"]
        assert "Recordar ahora" not in rows["tam.government"]  # every step sent
        assert "Todos los escalones enviados" in rows["tam.government"]
        assert "aviso a la persona titular" in rows["ver.government"]  # the next step, in words

        # a form posted anyway (an old page, a second tab) is refused, saying why
        def press(action: str, agency: str) -> str:
            data = {"csrf_token": token, "request_id": ids[agency], "agency": agency}
            return redirected_notice(client.post(f"/actions/{action}", data=data))

        assert press("remind", "ver.government").startswith(
            "error: Nada que enviar: ya se envió el recordatorio a Secretaría de Gobierno del "
            "Estado de Veracruz"
        )
        assert "aún no vence su plazo" in press("remind", "oax.government")
        assert "ya se enviaron todos los escalones" in press("escalate", "tam.government")
        # where something would be sent, only the missing bus stops it
        assert "no se puede contactar al bus" in press("remind", "gro.government")


def _row_of(page: str, request_id: str) -> str:
    """The table row of the page that holds ``request_id``."""
    at = page.index(f'title="{request_id}"')
    return page[page.rindex("<tr>", 0, at) : page.index("</tr>", at)]
