"""The deadline policy file and the escalation ladder, as pure functions with a given clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters import environment
from bus.domain.board import BoardPlan, Consent
from bus.domain.ladder import BoardSession, Obligation, escalation_id, rung_message, rungs_due
from bus.domain.policy import Binds, Clock, Policy, PolicyError, parse_duration
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
    assert POLICY.clocks[Clock.IMPLEMENTATION].articles == (
        "LPPDDHP art. 26 fr. II",
        "LPPDDHP art. 29 fr. II",
    )
    assert POLICY.ladder[L.AUTHORITY_NOTICE] == 1.5


# Which clock comes from which article, and which is the Mechanism's own policy.
LEGAL_BASES = [
    (Clock.MEASURES_ISSUED, Binds.FEDERAL, ("LPPDDHP art. 26 fr. I",), 3 * H, None),
    (
        Clock.RISK_ASSESSMENT,
        Binds.FEDERAL,
        ("LPPDDHP art. 26 fr. III", "LPPDDHP art. 27"),
        3 * H,
        10 * 24 * H,
    ),
    (Clock.DECISION_COMMUNICATED, Binds.FEDERAL, ("LPPDDHP art. 29 fr. I",), 72 * H, 72 * H),
    (
        Clock.IMPLEMENTATION,
        Binds.AGENCIES,
        ("LPPDDHP art. 26 fr. II", "LPPDDHP art. 29 fr. II"),
        9 * H,
        30 * 24 * H,
    ),
    (Clock.ACKNOWLEDGEMENT, Binds.AGENCIES, (), H, 24 * H),
    (Clock.ANSWER, Binds.AGENCIES, (), 3 * H, 72 * H),
    (Clock.SHELTER_ANSWER, Binds.AGENCIES, (), 2 * H, 48 * H),
    (Clock.PROGRESS_REPORT, Binds.AGENCIES, (), 30 * 24 * H, 30 * 24 * H),
    (Clock.REVIEW, Binds.FEDERAL, (), 180 * 24 * H, 180 * 24 * H),
]


@pytest.mark.parametrize(("clock", "binds", "articles", "urgent", "ordinary"), LEGAL_BASES)
def test_every_clock_says_its_article_or_that_it_is_policy(
    clock: Clock,
    binds: Binds,
    articles: tuple[str, ...],
    urgent: timedelta | None,
    ordinary: timedelta | None,
) -> None:
    rule = POLICY.clocks[clock]
    assert (rule.binds, rule.articles, rule.urgent, rule.ordinary) == (
        binds,
        articles,
        urgent,
        ordinary,
    )
    if articles:
        assert rule.basis == "; ".join(articles)
        assert all(POLICY.words(a) for a in articles)
    else:
        assert rule.basis.startswith("policy of the Mechanism: ") and len(rule.reason) > 40


def test_every_article_named_anywhere_in_the_shipped_policy_is_in_its_table() -> None:
    cited = {a for rule in POLICY.clocks.values() for a in rule.articles}
    assert cited | set(POLICY.board.articles) <= set(POLICY.articles)
    assert POLICY.board.material_before == 5 * 24 * H
    assert POLICY.board.articles == ("LPPDDHP art. 18", "LPPDDHP art. 8")


def test_a_clock_that_runs_in_one_procedure_only_says_so() -> None:
    assert POLICY.runs(Clock.MEASURES_ISSUED, Urgency.URGENT)
    assert not POLICY.runs(Clock.MEASURES_ISSUED, Urgency.ORDINARY)
    with pytest.raises(PolicyError, match="does not run for ordinary"):
        POLICY.length(Clock.MEASURES_ISSUED, Urgency.ORDINARY)


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
        SHIPPED.replace('policy = "the law sets no clock for an agency to acknowledge;', 'pol = "'),
        "unknown key(s): pol",
    ),
    (
        "empty reason",
        re.sub(r'policy = "shelters[^\n]*', 'policy = "  "', SHIPPED),
        "needs its legal basis",
    ),
    (
        "article not in the table",
        SHIPPED.replace('articles = ["LPPDDHP art. 26 fr. I"]', 'articles = ["LPPDDHP art. 28"]'),
        "cites LPPDDHP art. 28, which the [articles] table does not hold",
    ),
    (
        "article named in a reason",
        SHIPPED.replace("the law sets no interval;", "LPPDDHP art. 33 sets 30 days;"),
        "names 'art. 33', which the [articles] table does not hold",
    ),
    (
        "article named in a description",
        SHIPPED.replace("a shelter's answer to a relocation request", "art. 41 answer"),
        "names 'art. 41'",
    ),
    (
        "old free-text basis",
        SHIPPED.replace(
            'binds = "federal"\nurgent = "3h"\n',
            'basis = "art. 27"\nbinds = "federal"\nurgent = "3h"\n',
            1,
        ),
        '"basis" was replaced',
    ),
    (
        "both articles and policy",
        SHIPPED.replace(
            'articles = ["LPPDDHP art. 29 fr. I"]',
            'articles = ["LPPDDHP art. 29 fr. I"]\npolicy = "also"',
        ),
        "either articles or a policy reason",
    ),
    (
        "binds nobody",
        SHIPPED.replace(
            'binds = "federal"\nurgent = "3h"\n', 'binds = "states"\nurgent = "3h"\n', 1
        ),
        'binds must be "federal" or "agencies"',
    ),
    ("no board", SHIPPED.replace("[board]", "[bored]"), "[board] is missing"),
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


SESSION = BoardSession("JG-2026-03", SENT + 240 * H)  # its material is due 120 h after SENT
CONSENTED = BoardPlan(
    (SESSION,),
    POLICY.board_cutoff(),
    {"MPDDHP-2026-0401": Consent("MPDDHP-2026-0401", given=True)},
)

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
    rungs = rungs_due(unanswered(fired), POLICY, SENT + hours * H, active_registry(), CONSENTED)
    assert [r.level for r in rungs] == expected


def test_who_is_told_at_each_rung() -> None:
    rungs = rungs_due(
        unanswered(agency="tam.prosecutor"), POLICY, SENT + 100 * H, active_registry(), CONSENTED
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
