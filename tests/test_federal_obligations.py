"""The Mechanism's own obligations: which message starts and meets which federal clock (pure,
with the clock passed in), their rungs, and recording them on both ledgers in any order."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from adapters.ledger.federal import obligation_from_row
from adapters.ledger.obligations import SqlObligations
from adapters.ledger.tables import DeadLetterRow, FederalObligationRow
from bus.domain import subjects
from bus.domain.federal_clocks import (
    CaseRequest,
    FederalObligation,
    Standing,
    changes,
    is_federal,
    obligation_id,
)
from bus.domain.ladder import rung_message, rungs_due
from bus.domain.policy import Clock, Policy
from bus.domain.ports import Delivery
from bus.domain.recording import Result, record_batch
from bus.domain.rules import Rules
from schemas.envelope import Envelope, Urgency
from schemas.federal import (
    BoardDecisionTaken,
    IncorporationReceived,
    RiskStudyDelivered,
    UrgentMeasuresIssued,
)
from schemas.tracking import AcknowledgementOverdue, Escalated
from tests import builders as b

H = timedelta(hours=1)
D = timedelta(days=1)
CASE = "MPDDHP-2026-0412"
POLICY = Policy.load()
RULES = Rules(b.REGISTRY, POLICY)


def incorporation(urgent: bool = True, at: datetime = b.T0, **over: Any) -> IncorporationReceived:
    fields: dict[str, Any] = {
        "source": "fed.reception",
        "time": at,
        "subject": CASE,
        "urgency": "urgent" if urgent else "ordinary",
        "data": {"state": "GRO", "received_at": at},
    }
    fields.update(over)
    return IncorporationReceived(**fields)


def measures_issued(at: datetime) -> UrgentMeasuresIssued:
    return UrgentMeasuresIssued(
        source="fed.mechanism", time=at, subject=CASE, data={"measures": ["perimeter_patrol"]}
    )


def risk_study(at: datetime) -> RiskStudyDelivered:
    return RiskStudyDelivered(
        source="fed.risk", time=at, subject=CASE, data={"study_id": "EER-2026-0412"}
    )


def decision(at: datetime, decision_id: str = "JG-2026-03-07") -> BoardDecisionTaken:
    return BoardDecisionTaken(
        source="fed.board",
        time=at,
        subject=CASE,
        data={
            "decision_id": decision_id,
            "session_id": "JG-2026-03",
            "decided_at": at,
            "agencies": ["gro.government"],
        },
    )


def play(messages: list[tuple[Envelope, datetime]]) -> dict[Clock, FederalObligation]:
    """Record ``messages`` (message, recording time) in order, the way the hub does."""
    kept: dict[str, FederalObligation] = {}
    requests: list[CaseRequest] = []
    for message, now in messages:
        for ob in changes(message, now, POLICY, kept.values(), requests):
            kept[ob.obligation_id] = ob
        if message.family.value == "request":
            requests.append(CaseRequest(message.id, message.type, message.urgency, now))
    return {ob.clock: ob for ob in kept.values()}


# -- which message starts which clock, for how long ----------------------------------------


@pytest.mark.parametrize(
    ("urgent", "expected"),
    [
        (True, {Clock.MEASURES_ISSUED: 3 * H, Clock.RISK_ASSESSMENT: 3 * H}),
        (False, {Clock.RISK_ASSESSMENT: 10 * D}),
    ],
)
def test_incorporation_starts_the_procedures_clocks(
    urgent: bool, expected: dict[Clock, timedelta]
) -> None:
    started = play([(incorporation(urgent), b.T0 + 5 * 60 * timedelta(seconds=1))])
    assert {c: ob.due_at - b.T0 for c, ob in started.items()} == expected  # type: ignore[operator]
    owners = {c: ob.owner for c, ob in started.items()}
    assert owners == {
        Clock.MEASURES_ISSUED: "fed.reception",
        Clock.RISK_ASSESSMENT: "fed.risk",
    } or owners == {Clock.RISK_ASSESSMENT: "fed.risk"}
    assert all(ob.started_at == b.T0 and ob.state == "GRO" for ob in started.values())


def test_a_received_at_in_the_future_starts_the_clock_when_recorded() -> None:
    started = play([(incorporation(data={"state": "GRO", "received_at": b.T0 + D}), b.T0)])
    assert started[Clock.RISK_ASSESSMENT].started_at == b.T0


def test_a_board_decision_gives_the_coordination_72_hours() -> None:
    [ob] = play([(decision(b.T0), b.T0)]).values()
    assert (ob.clock, ob.owner, ob.due_at) == (
        Clock.DECISION_COMMUNICATED,
        "fed.mechanism",
        b.T0 + 72 * H,
    )
    assert ob.obligation_id == obligation_id(CASE, Clock.DECISION_COMMUNICATED, "JG-2026-03-07")


# -- which message meets it, and how it then stands ----------------------------------------


@pytest.mark.parametrize(
    ("meeting", "clock", "standing"),
    [
        (lambda at: measures_issued(at), Clock.MEASURES_ISSUED, None),
        (lambda at: b.patrol_request(at=at), Clock.MEASURES_ISSUED, None),
        (lambda at: risk_study(at), Clock.RISK_ASSESSMENT, None),
    ],
)
@pytest.mark.parametrize(("after", "expected"), [(2 * H, Standing.ON_TIME), (4 * H, Standing.LATE)])
def test_meeting_on_time_or_late(
    meeting: Any, clock: Clock, standing: None, after: timedelta, expected: Standing
) -> None:
    at = b.T0 + after
    obs = play([(incorporation(), b.T0), (meeting(at), at)])
    assert obs[clock].met_at == at
    assert obs[clock].standing(b.T0 + 10 * D) is expected


def test_an_ordinary_request_does_not_issue_urgent_measures() -> None:
    at = b.T0 + H
    obs = play([(incorporation(), b.T0), (b.patrol_request(at=at, urgency="ordinary"), at)])
    assert obs[Clock.MEASURES_ISSUED].standing(b.T0 + 2 * H) is Standing.OPEN
    assert obs[Clock.MEASURES_ISSUED].standing(b.T0 + 3 * H) is Standing.OVERDUE


def test_a_decision_is_communicated_by_the_first_request_after_it() -> None:
    before, after = b.T0 - H, b.T0 + 80 * H
    obs = play(
        [
            (b.patrol_request(at=before, urgency="ordinary"), before),
            (decision(b.T0), b.T0),
            (b.patrol_request(at=after, urgency="ordinary"), after),
        ]
    )
    ob = obs[Clock.DECISION_COMMUNICATED]
    assert ob.met_at == after and ob.standing(after) is Standing.LATE


def test_the_result_does_not_depend_on_the_order_recorded() -> None:
    """Every order of an incorporation, an issue, a request, a study, a decision and a
    request after it gives the same obligations (the earliest of each counts)."""
    timeline = [
        (incorporation(), b.T0),
        (measures_issued(b.T0 + 4 * H), b.T0 + 4 * H),
        (b.patrol_request(at=b.T0 + 2 * H), b.T0 + 2 * H),
        (risk_study(b.T0 + 5 * H), b.T0 + 5 * H),
        (decision(b.T0 + D), b.T0 + D),
        (b.patrol_request(at=b.T0 + 2 * D, urgency="ordinary"), b.T0 + 2 * D),
        (incorporation(at=b.T0 + H), b.T0 + H),  # the same request for incorporation again
    ]

    def seen(order: tuple[tuple[Envelope, datetime], ...]) -> tuple[Any, ...]:
        obs = play(list(order)).items()
        return tuple(sorted((c.value, ob.started_at, ob.due_at, ob.met_at) for c, ob in obs))

    outcomes = {seen(order) for order in itertools.permutations(timeline)}
    assert len(outcomes) == 1
    [outcome] = outcomes
    assert outcome == (
        ("decision_communicated", b.T0 + D, b.T0 + 4 * D, b.T0 + 2 * D),
        ("measures_issued", b.T0, b.T0 + 3 * H, b.T0 + 2 * H),
        ("risk_assessment", b.T0, b.T0 + 3 * H, b.T0 + 5 * H),
    )


def test_a_meeting_with_nothing_started_is_kept_not_refused() -> None:
    ob = play([(risk_study(b.T0), b.T0)])[Clock.RISK_ASSESSMENT]
    assert ob.started_at is None and ob.met_at == b.T0
    assert ob.standing(b.T0) is Standing.NOT_STARTED


# -- the ladder for a federal obligation ---------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "levels"),
    [
        (2.9, []),
        (3.0, [("reminder", "fed.reception", AcknowledgementOverdue)]),
        (4.5, [("reminder", "fed.reception", AcknowledgementOverdue),
               ("authority_notice", "fed.mechanism", Escalated)]),
        (9.0, [("reminder", "fed.reception", AcknowledgementOverdue),
               ("authority_notice", "fed.mechanism", Escalated),
               ("board_agenda", "fed.board", Escalated),
               ("monthly_report", "fed.mechanism", Escalated)]),
    ],
)  # fmt: skip
def test_rungs_and_their_recipients(hours: float, levels: list[tuple[str, str, type]]) -> None:
    ob = play([(incorporation(), b.T0)])[Clock.MEASURES_ISSUED].ladder_view()
    rungs = rungs_due(ob, POLICY, b.T0 + hours * H, b.REGISTRY)
    messages = [rung_message(r) for r in rungs]
    assert [
        (r.level.value, r.to_agency, type(m)) for r, m in zip(rungs, messages, strict=True)
    ] == levels
    assert all(m.data.request_id == ob.request_id == m.correlation_id for m in messages)
    assert all(m.subject == CASE and m.data.agency == "fed.reception" for m in messages)
    again = [rung_message(r).id for r in rungs_due(ob, POLICY, b.T0 + 9 * H, b.REGISTRY)]
    assert [m.id for m in messages] == again[: len(messages)]  # ids fixed by the rung


# -- recording on both ledgers --------------------------------------------------------------


def _deliveries(messages: list[Envelope]) -> list[Delivery]:
    return [
        Delivery(subjects.routes(m, b.REGISTRY)[0][0], m.to_json(), seq)
        for seq, m in enumerate(messages, start=1)
    ]


def _stored(ledger: Any) -> dict[str, FederalObligation]:
    with ledger.session() as s:
        rows = s.exec(select(FederalObligationRow))
        return {r.clock: obligation_from_row(r) for r in rows}


@pytest.mark.parametrize("reverse", [False, True])
def test_recorded_on_the_ledger_in_either_order(ledger: Any, reverse: bool) -> None:
    request = b.patrol_request(at=b.T0 + 4 * H)  # urgent: issues the measures, late
    messages: list[Envelope] = [incorporation(), request]
    if reverse:
        messages.reverse()
    deliveries = _deliveries(messages)
    times = [b.T0, b.T0 + 4 * H][:: -1 if reverse else 1]
    for delivery, now in zip(deliveries, times, strict=True):
        [outcome] = record_batch(ledger, [delivery], now, RULES)
        assert outcome.result is Result.RECORDED
    kept = _stored(ledger)
    measures = kept[Clock.MEASURES_ISSUED]
    assert (measures.owner, measures.started_at, measures.due_at) == (
        "fed.reception",
        b.T0,
        b.T0 + 3 * H,
    )
    assert measures.met_at == b.T0 + 4 * H and measures.met_by == request.id
    assert measures.standing(b.T0 + D) is Standing.LATE
    assert kept[Clock.RISK_ASSESSMENT].met_at is None
    assert ledger.count(DeadLetterRow) == 0
    # The sweeper sees the study overdue and the measures (met late) no more.
    overdue = [ob for ob in SqlObligations(ledger).open_obligations(b.T0 + 5 * H) if is_federal(ob)]
    assert [(ob.clock, ob.agency) for ob in overdue] == [(Clock.RISK_ASSESSMENT, "fed.risk")]
    assert SqlObligations(ledger).still_owed(overdue[0])


def test_one_batch_with_a_start_and_its_meeting(ledger: Any) -> None:
    batch = _deliveries([decision(b.T0), b.patrol_request(at=b.T0, urgency="ordinary")])
    outcomes = record_batch(ledger, batch, b.T0 + H, RULES)
    assert [o.result for o in outcomes] == [Result.RECORDED] * 2
    ob = _stored(ledger)[Clock.DECISION_COMMUNICATED]
    assert ob.standing(b.T0 + D) is Standing.ON_TIME and ob.met_at == b.T0 + H
    late = SqlObligations(ledger).open_obligations(b.T0 + 10 * D)
    assert not [ob for ob in late if is_federal(ob)]


def test_the_same_incorporation_twice_changes_nothing(ledger: Any) -> None:
    first, second = incorporation(), incorporation(at=b.T0 + H)
    record_batch(ledger, _deliveries([first]), b.T0, RULES)
    before = _stored(ledger)
    [again] = record_batch(
        ledger, [Delivery(_deliveries([second])[0].subject, second.to_json(), 2)], b.T0 + H, RULES
    )
    assert again.result is Result.RECORDED
    assert _stored(ledger) == before
    assert all(ob.urgency is Urgency.URGENT for ob in before.values())
