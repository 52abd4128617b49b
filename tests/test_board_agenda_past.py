"""The Board's agenda from the command line once sessions have passed: an item the ladder
placed with no session is on the first session it was in time for; met, it leaves the agenda
to come but stays on that session's own (``--session``); still owed, it is carried over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.settings import load_settings
from bus.domain.board import BoardPlan
from bus.domain.ladder import Obligation, fire_now, rung_message
from bus.domain.policy import Clock
from bus.domain.recording import Result, record_batch
from schemas.envelope import Envelope, Urgency
from schemas.registry import active_registry
from schemas.tracking import BoardSessionScheduled, EscalationLevel
from tests import builders as b
from tests.cli_processes import json_lines
from tests.ledgers import home_ledger
from tests.test_recording import Stream

DAY = timedelta(days=1)
MET, OWED = "MPDDHP-2026-0701", "MPDDHP-2026-0702"


def _unplaced_rung(request: Envelope, case: str, at: datetime) -> Envelope:
    """The Board rung as the sweeper sends it at ``at`` while no session is scheduled."""
    obligation = Obligation(
        request.id, "gro.government", Clock.ACKNOWLEDGEMENT, at - DAY, at, Urgency.URGENT, case
    )
    level = EscalationLevel.BOARD_AGENDA
    return rung_message(fire_now(obligation, level, at, BoardPlan(), active_registry()))


def _home(tmp_path: Path, now: datetime) -> Path:
    """Two items placed with no session 40 days ago; the Board then scheduled one session
    30 days ago (in time for both) and one 30 days ahead; one item was met since."""
    home = tmp_path / "home"
    placed = now - 40 * DAY
    sessions = [
        BoardSessionScheduled(
            source="fed.board",
            time=placed + DAY,
            data={"session_id": sid, "scheduled_at": at, "venue": "SEGOB"},
        )
        for sid, at in (("JG-PAST", now - 30 * DAY), ("JG-NEXT", now + 30 * DAY))
    ]
    met = b.patrol_request(subject=MET, at=placed - 2 * DAY)
    owed = b.patrol_request(subject=OWED, at=placed - 2 * DAY)
    placing = [met, owed, _unplaced_rung(met, MET, placed), _unplaced_rung(owed, OWED, placed)]
    ledger = home_ledger(load_settings(home=home))
    stream = Stream()
    try:  # recorded when sent: a rung is placed when the hub records it
        outcomes = record_batch(ledger, [stream.deliver(m) for m in placing], placed, b.RULES)
        later = [*sessions, b.acknowledgement(met.id, at=now - 20 * DAY)]
        outcomes += record_batch(ledger, [stream.deliver(m) for m in later], now, b.RULES)
    finally:
        ledger.close()
    assert all(o.result is Result.RECORDED for o in outcomes), outcomes
    return home


def test_a_met_item_leaves_the_agenda_to_come_and_stays_on_its_own_session(
    tmp_path: Path,
) -> None:
    home = _home(tmp_path, datetime.now(UTC))
    coming = json_lines(["board", "agenda"], home)
    assert [(i["case"], i["session"], i["carried_from"]) for i in coming] == [
        (OWED, "JG-NEXT", "JG-PAST")
    ]
    assert json_lines(["board", "agenda", "--session", "JG-NEXT"], home) == coming
    past = json_lines(["board", "agenda", "--session", "JG-PAST"], home)
    assert sorted((i["case"], i["session"]) for i in past) == [
        (MET, "JG-PAST"),
        (OWED, "JG-PAST"),
    ]
    assert next(i for i in past if i["case"] == MET)["overdue_hours"] is None
