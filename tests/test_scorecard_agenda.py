"""Scorecard and implementation agenda as pure functions, checked against hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime

from bus.domain.agenda import OpenItem, agenda
from bus.domain.scorecard import (
    CommitmentFacts,
    RecipientFacts,
    StateScore,
    SummonsFacts,
    scorecard,
)


def t(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


RECIPIENTS = [
    # acknowledged in 2 h, on time (24 h clock), answered
    RecipientFacts("GRO", "gro.government", t(2, 10), t(3, 10), t(2, 12), t(5, 10), t(2, 13)),
    # urgent, acknowledged after 5 h: late; answered before the month ended
    RecipientFacts("GRO", "gro.government", t(5, 10), t(5, 11), t(5, 15), t(5, 13), t(6, 9)),
    # never acknowledged: due, not on time, and open overdue
    RecipientFacts("GRO", "gro.prosecutor", t(10), t(11), None, t(13)),
    # sent on the last evening: received, not yet due at the end of the month
    RecipientFacts("GRO", "gro.prosecutor", t(31, 23), t(1, 23, month=4), None),
    # sent in February and never acknowledged: not this month's, but still open overdue
    RecipientFacts("GRO", "gro.government", t(20, 0, month=2), t(21, 0, month=2), None),
    # recalled before its deadline: received, never owed
    RecipientFacts("GRO", "gro.government", t(12), t(13), None, recalled_at=t(12, 6)),
    # Veracruz: acknowledged in 1.5 h
    RecipientFacts(
        "VER",
        "ver.government",
        t(3, 10),
        t(4, 10),
        datetime(2026, 3, 3, 11, 30, tzinfo=UTC),
        t(6),
        t(3, 12),
    ),
]
COMMITMENTS = [
    CommitmentFacts("GRO", "gro.government", t(20), t(2), fulfilled_at=t(19), ended_at=t(19)),
    CommitmentFacts("GRO", "gro.government", t(25), t(2), fulfilled_at=t(27), ended_at=t(27)),
    CommitmentFacts("GRO", "gro.prosecutor", t(28), t(11)),  # open past due
    CommitmentFacts("GRO", "gro.government", t(10, month=4), t(20)),  # not due yet
]
SUMMONS = [
    SummonsFacts("GRO", "gro.government", t(15), True),
    SummonsFacts("GRO", "gro.prosecutor", t(15), False),
    SummonsFacts("GRO", "gro.commission", t(16), None),
]


def test_scorecard_for_a_scripted_month() -> None:
    scores = scorecard(RECIPIENTS, COMMITMENTS, SUMMONS, asof=t(1, month=4), since=t(1))
    assert scores == [
        StateScore(
            state="GRO",
            requests_received=5,
            acknowledged_on_time=1,
            acknowledgements_due=3,
            median_hours_to_acknowledge=3.5,
            commitments_due=3,
            commitments_kept_on_time=1,
            open_overdue=3,
            summons=3,
            summons_attended=1,
        ),
        StateScore("VER", 1, 1, 1, 1.5, 0, 0, 0, 0, 0),
    ]
    gro, ver = scores
    assert gro.acknowledged_on_time_pct == 33.3 and gro.kept_on_time_pct == 33.3
    assert gro.summons_attended_pct == 33.3
    assert ver.acknowledged_on_time_pct == 100.0 and ver.kept_on_time_pct is None


def test_scorecard_as_of_an_earlier_moment_ignores_later_answers() -> None:
    [gro, _] = scorecard(RECIPIENTS, COMMITMENTS, SUMMONS, asof=t(5, 14), since=t(1))
    # On 5 March at 14:00 the urgent request was due at 11:00 and not yet acknowledged.
    assert gro.requests_received == 2 and gro.acknowledgements_due == 2
    assert gro.acknowledged_on_time == 1
    assert gro.open_overdue == 2  # the urgent one, and February's


def test_agenda_merges_mechanism_and_iachr_measures() -> None:
    items = [
        OpenItem(
            "R1",
            "MPDDHP-1",
            None,
            "gro.government",
            "protection_measure",
            "Rondines perimetrales",
            t(10),
            "C1",
        ),
        OpenItem(
            "R2",
            "MPDDHP-1",
            "MC-123-21",
            "gro.prosecutor",
            "investigation",
            "answer the request",
            t(25),
            None,
            "delivered",
        ),
        OpenItem(
            "R3",
            "MC-123-21",
            None,
            "gro.government",
            "protection_measure",
            "Escolta",
            t(1, month=4),
            "C7",
        ),
        OpenItem(
            "R4", "MPDDHP-2", None, "ver.government", "protection_measure", "Cámaras", t(11), "C1"
        ),
        OpenItem(
            "R5",
            "MPDDHP-9",
            "MC-999-20",
            "oax.government",
            "protection_measure",
            "Escolta",
            t(11),
            "C1",
        ),
    ]
    merged = agenda("MPDDHP-1", items, now=t(20))
    assert [(a.request_id, a.instruments, a.overdue) for a in merged] == [
        ("R1", ("Mecanismo",), True),
        ("R2", ("Mecanismo", "CIDH MC-123-21"), False),
        ("R3", ("CIDH MC-123-21",), False),
    ]
    assert agenda("MPDDHP-404", items, now=t(20)) == []
