"""Scorecard and implementation agenda as pure functions, checked against hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bus.domain.agenda import OpenItem, agenda
from bus.domain.scorecard import (
    CommitmentFacts,
    RecipientFacts,
    Section,
    StateScore,
    SummonsFacts,
    kept_on_time,
    scorecard,
    settled_at,
)
from tests.builders import REGISTRY


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
    scores = scorecard(
        RECIPIENTS, COMMITMENTS, SUMMONS, asof=t(1, month=4), since=t(1), registry=REGISTRY
    )
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
    [gro, _] = scorecard(
        RECIPIENTS, COMMITMENTS, SUMMONS, asof=t(5, 14), since=t(1), registry=REGISTRY
    )
    # On 5 March at 14:00 the urgent request was due at 11:00 and not yet acknowledged.
    assert gro.requests_received == 2 and gro.acknowledgements_due == 2
    assert gro.acknowledged_on_time == 1
    assert gro.open_overdue == 2  # the urgent one, and February's


# (commitment, as of, since) -> (counted in the period, kept on time): fulfilment is compared
# with the commitment's own due date, and an early fulfilment counts as soon as it happens.
KEPT = [
    # fulfilled two days early, due next month: kept, and counted this month
    (CommitmentFacts("GRO", "gro.government", t(10, month=4), t(2), t(20), t(20)), True, True),
    # fulfilled at the very hour it was due: kept
    (CommitmentFacts("GRO", "gro.government", t(20), t(2), t(20), t(20)), True, True),
    # fulfilled a day late: counted when it came due, not kept
    (CommitmentFacts("GRO", "gro.government", t(20), t(2), t(21), t(21)), True, False),
    # still open, due in April: not settled yet
    (CommitmentFacts("GRO", "gro.government", t(10, month=4), t(2)), False, False),
    # still open and past due: counted, not kept
    (CommitmentFacts("GRO", "gro.government", t(25), t(2)), True, False),
    # withdrawn early: settled then, not kept
    (CommitmentFacts("GRO", "gro.government", t(10, month=4), t(2), None, t(15)), True, False),
    # fulfilled early in February: February's, not March's
    (
        CommitmentFacts(
            "GRO", "gro.government", t(5), t(2, month=2), t(20, month=2), t(20, month=2)
        ),
        False,
        True,
    ),
]


@pytest.mark.parametrize(("commitment", "counted", "kept"), KEPT)
def test_a_commitment_fulfilled_by_its_due_date_is_kept_on_time(
    commitment: CommitmentFacts, counted: bool, kept: bool
) -> None:
    assert kept_on_time(commitment) is kept
    [score] = scorecard([], [commitment], [], asof=t(31, 23), since=t(1), registry=REGISTRY)
    assert score.commitments_due == int(counted)
    assert score.commitments_kept_on_time == int(counted and kept)
    assert score.kept_on_time_pct == (None if not counted else 100.0 if kept else 0.0)


def test_two_commitments_fulfilled_early_show_as_kept_before_their_due_dates() -> None:
    early = [
        CommitmentFacts("GRO", "gro.government", t(20, month=4), t(2), t(10), t(10)),
        CommitmentFacts("GRO", "gro.prosecutor", t(30, month=4), t(3), t(12), t(12)),
    ]
    assert [settled_at(c) for c in early] == [t(10), t(12)]
    # on 11 March one is kept, on 15 March both; never "no data" once fulfilled
    for asof, kept in ((t(11), 1), (t(15), 2)):
        [gro] = scorecard([], early, [], asof=asof, since=t(1), registry=REGISTRY)
        assert (gro.commitments_kept_on_time, gro.commitments_due) == (kept, kept)
        assert gro.kept_on_time_pct == 100.0


def test_shelters_and_federal_units_have_sections_of_their_own() -> None:
    recipients = [
        RecipientFacts("CMX", "cmx.government", t(2), t(3), t(2, 5)),
        RecipientFacts("CMX", "shelter.casa-refugio-cdmx", t(2), t(3), None),
        RecipientFacts("OAX", "shelter.albergue-oaxaca", t(4), t(5), t(4, 2)),
        RecipientFacts("", "fed.risk", t(6), t(7), t(6, 1)),
    ]
    scores = scorecard(recipients, [], [], asof=t(10), since=t(1), registry=REGISTRY)
    assert [(s.section, s.state, s.agency, s.requests_received) for s in scores] == [
        (Section.STATE, "CMX", None, 1),  # the government alone: the shelter is not the state
        (Section.SHELTER, "OAX", "shelter.albergue-oaxaca", 1),
        (Section.SHELTER, "CMX", "shelter.casa-refugio-cdmx", 1),
        (Section.FEDERAL, "", "fed.risk", 1),
    ]
    cmx = scores[0]
    assert cmx.acknowledged_on_time_pct == 100.0 and cmx.open_overdue == 0
    assert scores[2].open_overdue == 1  # the shelter's own overdue answer, not Mexico City's


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
