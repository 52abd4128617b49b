"""``mechbus federal`` and ``mechbus board decision`` from the user's side: bad input refused
with exit 2 before anything is sent, messages kept in the outbox when no server runs, and the
views of the Mechanism's own obligations as tables and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bus.domain import subjects
from bus.domain.policy import Clock
from bus.domain.ports import Delivery
from bus.domain.recording import record_batch
from schemas.envelope import Urgency
from tests import builders as b
from tests.cli_processes import invoke, json_lines
from tests.ledgers import upgraded_ledger
from tests.test_federal_obligations import POLICY, RULES, incorporation, measures_issued

NOWHERE = ["--nats-url", "nats://127.0.0.1:9"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["federal", "incorporation", "case 12", "--state", "GRO"], "is not a case number"),
        (["federal", "incorporation", "MPDDHP-1", "--state", "XXX"], "not a state of Mexico"),
        (
            ["federal", "incorporation", "MPDDHP-1", "--state", "GRO", "--unit", "fed.nobody"],
            "is not a unit of the Mechanism: one of fed.board, fed.mechanism, fed.reception",
        ),
        (
            ["federal", "incorporation", "MPDDHP-1", "--state", "GRO", "--received-at", "ayer"],
            "not an ISO 8601",
        ),
        (["federal", "risk-study", "mpddhp 1", "--study", "EER-1"], "is not a case number"),
        (
            ["federal", "measures-issued", "MPDDHP-1", "--measure", "moat"],
            "'moat' is not one of",
        ),
        (["federal", "list", "--unit", "gro.government"], "is not a unit of the Mechanism"),
        (
            ["board", "decision", "MPDDHP-1", "--session", "JG-1", "--agency", "gro.police"],
            "gro.police not in the agency registry",
        ),
        (
            ["board", "decision", "MPDDHP 1", "--session", "JG-1", "--agency", "gro.government"],
            "is not a case number",
        ),
    ],
)
@pytest.mark.usefixtures("english_cli")  # the words above
def test_bad_input_is_refused_with_what_is_valid(
    tmp_path: Path, args: list[str], words: str
) -> None:
    sends = args[1] != "list"
    result = invoke(["--lang", "en", *args, *(NOWHERE if sends else [])], tmp_path / "home")
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert not (tmp_path / "home" / "ledger.db").exists()  # nothing was kept to send


def test_the_messages_wait_in_the_outbox_without_a_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert invoke(["db", "upgrade"], home).exit_code == 0
    sent = [
        ["federal", "incorporation", "MPDDHP-2026-0412", "--state", "GRO", "--urgent"],
        ["federal", "measures-issued", "MPDDHP-2026-0412", "--measure", "perimeter_patrol"],
        ["federal", "risk-study", "MPDDHP-2026-0412", "--study", "EER-2026-0412"],
        [
            *("board", "decision", "MPDDHP-2026-0412", "--session", "JG-2026-04"),
            *("--agency", "gro.government", "--agency", "gro.prosecutor"),
        ],
    ]
    for args in sent:
        result = invoke(args, home)
        assert result.exit_code == 0, result.output
        assert "queda en la bandeja de salida" in " ".join(result.output.split())
    kept = json_lines(["outbox", "list"], home)
    assert [row["type"] for row in kept] == [
        "mech.tracking.incorporation_received.v1",
        "mech.tracking.urgent_measures_issued.v1",
        "mech.tracking.risk_study_delivered.v1",
        "mech.tracking.board_decision_taken.v1",
    ]
    assert [row["source"] for row in kept] == [
        "fed.reception",
        "fed.mechanism",
        "fed.risk",
        "fed.board",
    ]


def test_the_views_of_the_mechanisms_obligations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = upgraded_ledger(url)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    late = start + timedelta(hours=4)
    messages = [incorporation(at=start), measures_issued(late)]
    for seq, (message, at) in enumerate(zip(messages, (start, late), strict=True), start=1):
        subject = subjects.routes(message, b.REGISTRY)[0][0]
        record_batch(ledger, [Delivery(subject, message.to_json(), seq)], at, RULES)
    ledger.close()
    home = tmp_path / "home"

    [study] = json_lines(["federal", "list", "--ledger-url", url], home)
    assert (study["case"], study["clock"], study["urgency"]) == (
        "MPDDHP-2026-0412",
        "risk_assessment",
        "urgent",
    )
    assert study["unit"] == "Unidad de Evaluación de Riesgos del Mecanismo"
    assert study["basis"] == "LPPDDHP art. 26 fr. III; LPPDDHP art. 27"
    assert 1.9 < study["overdue_hours"] < 2.1
    both = json_lines(["federal", "list", "--met", "--ledger-url", url], home)
    assert [r["clock"] for r in both] == ["measures_issued", "risk_assessment"]

    scores = {r["unit"]: r for r in json_lines(["federal", "scorecard", "--ledger-url", url], home)}
    reception = scores["Unidad de Recepción de Casos y Reacción Rápida del Mecanismo"]
    assert (reception["started"], reception["late"], reception["median_hours_to_meet"]) == (1, 1, 4)
    risk = scores["Unidad de Evaluación de Riesgos del Mecanismo"]
    assert (risk["started"], risk["overdue"], risk["on_time"]) == (1, 1, 0)
    assert len(scores) == 3  # the Executive Coordination owes none yet, and is shown

    table = invoke(["scorecard", "--ledger-url", url], home)
    assert table.exit_code == 0, table.output
    assert "Plazos del propio Mecanismo, por unidad" in table.output
    assert "Recepción" in table.output  # the unit's name, wrapped in its cell
    csv = invoke(["federal", "list", "--csv", "--ledger-url", url], home)
    assert csv.stdout.splitlines()[0].startswith("Expediente,Plazo,Unidad")  # in Spanish
    assert json.dumps(study, ensure_ascii=False)  # plain values for scripts

    month = f"{start:%Y-%m}"
    out = tmp_path / "report"
    written = invoke(["report", "--month", month, "--out", str(out), "--ledger-url", url], home)
    assert written.exit_code == 0, written.output
    text = (out / f"report-{month}.md").read_text()
    assert "## Plazos del propio Mecanismo" in text
    # A month's report counts as of the month's end: run in the first hours of a month, the
    # reception's step (met four hours after the start) may still be open then, overdue or not.
    next_month = (start.replace(day=1) + timedelta(days=32)).replace(
        day=1, hour=0, minute=0, second=0
    )
    due = start + POLICY.length(Clock.MEASURES_ISSUED, Urgency.URGENT)
    # started, on time, late, open not yet due, open overdue
    if late < next_month:
        counted = "1 | 0 | 1 | 0 | 0"
    elif due < next_month:
        counted = "1 | 0 | 0 | 0 | 1"
    else:
        counted = "1 | 0 | 0 | 1 | 0"
    assert f"| Unidad de Recepción de Casos y Reacción Rápida del Mecanismo | {counted} |" in text
