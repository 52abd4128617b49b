"""The deadline policy file and the escalation ladder, as pure functions with a given clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters import environment
from bus.domain.ladder import BoardSession, Obligation, escalation_id, rung_message, rungs_due
from bus.domain.policy import Clock, Policy, PolicyError, parse_duration
from schemas.envelope import Urgency
from schemas.registry import AgencyRegistry, active_registry
from schemas.tracking import AcknowledgementOverdue, CommitmentOverdue, Escalated
from schemas.tracking import EscalationLevel as L

POLICY = Policy.load()
SENT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_shipped_policy_names_every_clock_with_its_basis() -> None:
    assert set(POLICY.clocks) == set(Clock)
    assert all(rule.basis for rule in POLICY.clocks.values())
    assert POLICY.length(Clock.ACKNOWLEDGEMENT, Urgency.URGENT) == H
    assert POLICY.length(Clock.ACKNOWLEDGEMENT, Urgency.ORDINARY) == 24 * H
    assert POLICY.length(Clock.IMPLEMENTATION, Urgency.URGENT) == 9 * H
    assert "art. 28" in POLICY.clocks[Clock.IMPLEMENTATION].basis
    assert POLICY.ladder[L.AUTHORITY_NOTICE] == 1.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("24h", 24 * H),
        ("30d", timedelta(days=30)),
        ("1.5h", 1.5 * H),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


SHIPPED = (Path(__file__).parents[1] / "bus" / "data" / "policy.toml").read_text()

BAD_POLICIES = [
    ("not toml", "clocks = [", "not valid TOML"),
    (
        "no basis",
        SHIPPED.replace('basis = "Mechanism service level (policy)"', 'basis = ""'),
        "needs its legal basis",
    ),
    (
        "bad duration",
        SHIPPED.replace('urgent = "1h"', 'urgent = "soon"'),
        "acknowledgement]: urgent: 'soon' is not a duration",
    ),
    ("zero", SHIPPED.replace('urgent = "1h"', 'urgent = "0h"'), "longer than zero"),
    ("missing clock", SHIPPED.replace("[clocks.review]", "[clocks.reviewed]"), "unknown clock"),
    (
        "ladder out of order",
        SHIPPED.replace("board_agenda = 2.0", "board_agenda = 1.2"),
        "must not come before",
    ),
    (
        "unknown key",
        SHIPPED.replace('urgent = "1h"', 'urgent = "1h"\nurgnt = "2h"'),
        "unknown key(s): urgnt",
    ),
]


@pytest.mark.parametrize(("name", "text", "words"), BAD_POLICIES, ids=lambda v: v[:20])
def test_bad_policy_files_are_refused_clearly(
    tmp_path: Path, name: str, text: str, words: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        Policy.load(path)
    assert words in str(info.value) and str(path) in str(info.value)


def test_deployment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(SHIPPED.replace('urgent = "1h"', 'urgent = "30m"'))
    chosen = environment.policy({"MECHBUS_POLICY": str(path)})
    assert chosen.length(Clock.ACKNOWLEDGEMENT, Urgency.URGENT) == timedelta(minutes=30)
    assert environment.policy({}).origin == "bus/data/policy.toml"
    # the domain itself never looks at the environment
    monkeypatch.setenv("MECHBUS_POLICY", str(path))
    assert Policy.load().length(Clock.ACKNOWLEDGEMENT, Urgency.URGENT) == timedelta(hours=1)


def test_deployment_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "agencies.toml"
    path.write_text(
        '[[agency]]\nid = "fed.mechanism"\nkind = "federal"\nname = "Mecanismo"\n'
        '[[agency]]\nid = "gro.government"\nkind = "government"\nname = "SGG"\nstate = "GRO"\n'
    )
    assert len(environment.registry({"MECHBUS_AGENCIES": str(path)})) == 2
    monkeypatch.setenv("MECHBUS_AGENCIES", str(path))
    assert len(AgencyRegistry.load()) > 2  # the shipped one: only the entry point reads it


def unanswered(fired: frozenset[L] = frozenset(), agency: str = "tam.government") -> Obligation:
    return Obligation(
        "01M8KHEY07QWTZKE0VW6WNXK55",
        agency,
        Clock.ACKNOWLEDGEMENT,
        SENT,
        SENT + H,
        Urgency.URGENT,
        "MPDDHP-2026-0401",
        fired=fired,
    )


SESSION = BoardSession("JG-2026-03", SENT + 48 * H)

# (name, hours after sending, rungs already fired, rungs expected now)
LADDER_TABLE = [
    ("before the deadline", 0.99, frozenset(), []),
    ("at the deadline", 1.0, frozenset(), [L.REMINDER]),
    ("reminder already sent", 1.2, frozenset({L.REMINDER}), []),
    ("half again overdue", 1.5, frozenset({L.REMINDER}), [L.AUTHORITY_NOTICE]),
    ("twice the clock", 2.0, frozenset({L.REMINDER, L.AUTHORITY_NOTICE}), [L.BOARD_AGENDA]),
    (
        "clock jumped far ahead",
        100,
        frozenset(),
        [L.REMINDER, L.AUTHORITY_NOTICE, L.BOARD_AGENDA, L.MONTHLY_REPORT],
    ),
    ("restart after a gap", 2.5, frozenset({L.REMINDER}), [L.AUTHORITY_NOTICE, L.BOARD_AGENDA]),
    ("all fired", 100, frozenset(L), []),
    ("clock jumped back", -5, frozenset({L.REMINDER}), []),
]


@pytest.mark.parametrize(("name", "hours", "fired", "expected"), LADDER_TABLE, ids=lambda v: v)
def test_ladder(name: str, hours: float, fired: frozenset[L], expected: list[L]) -> None:
    rungs = rungs_due(unanswered(fired), POLICY, SENT + hours * H, active_registry(), SESSION)
    assert [r.level for r in rungs] == expected


def test_who_is_told_at_each_rung() -> None:
    rungs = rungs_due(
        unanswered(agency="tam.prosecutor"), POLICY, SENT + 100 * H, active_registry(), SESSION
    )
    told = {r.level: (r.to_agency, r.board_session_id, r.authority_to_summon) for r in rungs}
    assert told == {
        L.REMINDER: ("tam.prosecutor", None, None),
        L.AUTHORITY_NOTICE: ("tam.government", None, None),  # the state's Secretary
        L.BOARD_AGENDA: ("fed.board", "JG-2026-03", "tam.prosecutor"),
        L.MONTHLY_REPORT: ("fed.mechanism", None, None),
    }


def test_rung_messages_are_fixed_by_the_rung() -> None:
    [first] = rungs_due(unanswered(), POLICY, SENT + 1.1 * H, active_registry())
    [again] = rungs_due(unanswered(), POLICY, SENT + 1.4 * H, active_registry())
    assert rung_message(first).to_json() == rung_message(again).to_json()
    message = rung_message(first)
    assert isinstance(message, AcknowledgementOverdue)
    assert message.id == escalation_id(first.obligation, L.REMINDER)
    assert message.time == SENT + H and message.recipients == ("tam.government",)
    commitment = Obligation(
        "01M8KHEY07QWTZKE0VW6WNXK55",
        "gro.government",
        Clock.IMPLEMENTATION,
        SENT,
        SENT + 9 * H,
        commitment_id="C1",
    )
    rungs = rungs_due(commitment, POLICY, SENT + 30 * H, active_registry())
    assert isinstance(rung_message(rungs[0]), CommitmentOverdue)
    assert all(isinstance(rung_message(r), Escalated) for r in rungs[1:])
    assert escalation_id(commitment, L.REMINDER) != escalation_id(unanswered(), L.REMINDER)


def test_compressed_policy_for_demos() -> None:
    fast = POLICY.compressed(3600)  # one policy hour per second
    assert fast.length(Clock.ACKNOWLEDGEMENT, Urgency.URGENT) == timedelta(seconds=1)
