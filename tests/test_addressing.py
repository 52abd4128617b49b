"""Where a request may go and by when it may ask, as pure rules: the kind of agency each family
of request is for, the state of its case, and an implementation date within the legal limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bus.domain.addressing import (
    RECEIVERS,
    Mismatch,
    declared_state,
    misaddressed,
    override_reason,
)
from bus.domain.legal_limit import DateProblem, implement_by_problem
from bus.domain.policy import Policy
from schemas.requests import OPENING_REQUESTS, InformationRequest
from tests import builders as b

CASE = "MPDDHP-2026-0412"


def information(*to: str) -> InformationRequest:
    return InformationRequest(
        source="fed.mechanism",
        time=b.T0,
        subject=CASE,
        recipients=to,
        data={"question": "¿Qué avances hay en la carpeta de investigación?"},
    )


def meeting(*to: str) -> Any:
    from schemas.requests import ImplementationMeetingNotice

    return ImplementationMeetingNotice(
        source="fed.mechanism",
        time=b.T0,
        subject=CASE,
        recipients=to,
        data={
            "meeting_at": b.T0 + timedelta(days=3),
            "venue": "Palacio de Gobierno, Chilpancingo",
            "agenda": ["Revisión de los rondines perimetrales"],
        },
    )


def patrol(to: str, state: str = "GRO") -> Any:
    data = {**b.patrol_request().data.model_dump(exclude_none=True), "state": state}
    return b.patrol_request(to, data=data)


# (the request, the states the ledger records for its case, what is wrong: (agency, mismatch))
CASES = [
    ("measure to its state's government", patrol("gro.government"), set(), []),
    ("measure to another state", patrol("ver.government"), set(), [("ver.government", "state")]),
    ("measure's own state wins", patrol("ver.government", "VER"), {"GRO"}, []),
    ("measure to a prosecutor", patrol("gro.prosecutor"), set(), [("gro.prosecutor", "kind")]),
    ("measure to a shelter", patrol("shelter.casa-norte"), set(), [("shelter.casa-norte", "kind")]),
    ("investigation to a prosecutor", b.investigation_request(), {"GRO"}, []),
    (
        "investigation to a government",
        b.investigation_request("gro.government"),
        {"GRO"},
        [("gro.government", "kind")],
    ),
    (
        "investigation to another state",
        b.investigation_request("ver.prosecutor"),
        {"GRO"},
        [("ver.prosecutor", "state")],
    ),
    ("investigation, case state unknown", b.investigation_request("ver.prosecutor"), set(), []),
    (
        "investigation, case in two states",
        b.investigation_request("ver.prosecutor"),
        {"GRO", "VER"},
        [],
    ),
    ("information to anyone of the state", information("gro.commission"), {"GRO"}, []),
    ("information to a federal unit", information("fed.risk"), {"GRO"}, []),
    ("information to a shelter elsewhere", information("shelter.casa-norte"), {"GRO"}, []),
    (
        "information to another state",
        information("gro.government", "oax.commission"),
        {"GRO"},
        [("oax.commission", "state")],
    ),
    ("summons to a commission", b.board_summons("gro.commission"), {"GRO"}, []),
    (
        "summons to a shelter",
        b.board_summons("shelter.casa-norte"),
        {"GRO"},
        [("shelter.casa-norte", "kind")],
    ),
    (
        "summons to another state",
        b.board_summons("mic.government"),
        {"GRO"},
        [("mic.government", "state")],
    ),
    ("relocation to shelters in other states", b.relocation_request(), {"GRO"}, []),
    (
        "relocation to a government",
        b.relocation_request(("gro.government",)),
        {"GRO"},
        [("gro.government", "kind")],
    ),
    (
        "meeting with the state authorities",
        meeting("gro.government", "gro.prosecutor"),
        {"GRO"},
        [],
    ),
    (
        "meeting with a shelter",
        meeting("shelter.casa-norte"),
        {"GRO"},
        [("shelter.casa-norte", "kind")],
    ),
    (
        "a recall is not judged here",
        b.recall("01J0000000000000000000000A", "ver.government"),
        {"GRO"},
        [],
    ),
]


@pytest.mark.parametrize(
    ("message", "states", "wrong"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_recipients_that_do_not_fit(
    message: Any, states: set[str], wrong: list[tuple[str, str]]
) -> None:
    found = misaddressed(message, frozenset(states), b.REGISTRY)
    assert [(p.recipient.id, p.mismatch.value) for p in found] == wrong


def test_a_refusal_names_what_would_be_valid() -> None:
    [kind] = misaddressed(b.investigation_request("gro.government"), frozenset({"GRO"}), b.REGISTRY)
    assert kind.mismatch is Mismatch.KIND and not kind.stated
    assert [a.id for a in kind.valid] == ["gro.prosecutor"]
    [state] = misaddressed(patrol("ver.government"), frozenset({"OAX"}), b.REGISTRY)
    assert state.stated and state.states == ("GRO",)  # the measure's own state, not the record's
    assert [a.id for a in state.valid] == ["gro.government"]
    [unknown] = misaddressed(b.investigation_request("ver.government"), frozenset(), b.REGISTRY)
    assert [a.id for a in unknown.valid] == ["ver.prosecutor"]  # the state the agency given is in
    [federal] = misaddressed(b.investigation_request("fed.risk"), frozenset(), b.REGISTRY)
    assert federal.valid == ()  # 32 prosecutors would say nothing: the rule alone is said
    [shelter] = misaddressed(b.relocation_request(("gro.government",)), frozenset(), b.REGISTRY)
    assert {a.kind.value for a in shelter.valid} == {"shelter"} and len(shelter.valid) == 3


def test_every_opening_request_has_its_receivers() -> None:
    assert set(RECEIVERS) == set(OPENING_REQUESTS)


def test_the_state_a_recorded_request_declares() -> None:
    assert declared_state("mech.request.protection_measure.v1", {"state": "GRO"}) == "GRO"
    assert declared_state("mech.request.relocation.v1", {"origin_state": "VER"}) == "VER"
    assert declared_state("mech.request.information.v1", {"question": "¿?"}) is None


def test_the_override_reason_is_read_from_the_body() -> None:
    assert override_reason(patrol("gro.government")) is None
    data = {**b.patrol_request().data.model_dump(exclude_none=True), "override_reason": "Reubicada"}
    assert override_reason(b.patrol_request(data=data)) == "Reubicada"
    assert override_reason(b.recall("01J0000000000000000000000A")) is None


POLICY = Policy.load()


@pytest.mark.parametrize(
    ("urgency", "after", "problem"),
    [
        ("urgent", timedelta(hours=8), None),
        ("urgent", timedelta(hours=9), None),  # the limit itself is allowed
        ("urgent", timedelta(hours=10), DateProblem.BEYOND),
        ("ordinary", timedelta(days=29), None),
        ("ordinary", timedelta(days=31), DateProblem.BEYOND),
        ("urgent", timedelta(seconds=0), DateProblem.PAST),
        ("ordinary", -timedelta(days=1), DateProblem.PAST),
    ],
)
def test_the_date_to_implement_by(
    urgency: str, after: timedelta, problem: DateProblem | None
) -> None:
    data = {**b.patrol_request().data.model_dump(exclude_none=True), "implement_by": b.T0 + after}
    message = b.patrol_request(urgency=urgency, data=data)
    found = implement_by_problem(message, b.T0, POLICY)
    assert (found.problem if found else None) is problem
    if problem is DateProblem.BEYOND:
        assert found is not None and found.limit is not None and found.limit < b.T0 + after


def test_no_date_and_other_requests_have_no_problem() -> None:
    assert implement_by_problem(b.patrol_request(), b.T0, POLICY) is None
    assert implement_by_problem(b.investigation_request(), b.T0, POLICY) is None
