"""The Governing Board's rules as pure tables: the material cut-off, consent before an
invitation, carry-over of unresolved items."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bus.domain.aggressors import NOT_INVITED_NOTE
from bus.domain.board import (
    NO_CONSENT_NOTE,
    BoardPlan,
    BoardSession,
    Consent,
    Placement,
    placement_now,
    session_for,
    uninvitable,
)
from bus.domain.ladder import Obligation, fire_now, rung_message
from bus.domain.policy import Clock, Policy
from schemas.envelope import Urgency
from schemas.registry import active_registry
from schemas.tracking import EscalationLevel

DAY = timedelta(days=1)
CUTOFF = Policy.load().board_cutoff()  # the shipped policy: 5 days
DEC = BoardSession("JG-2026-12", datetime(2026, 12, 10, 17, tzinfo=UTC))
JAN = BoardSession("JG-2027-01", datetime(2027, 1, 14, 17, tzinfo=UTC))
SESSIONS = (DEC, JAN)
CASE = "MPDDHP-2026-0401"


def test_the_shipped_policy_wants_the_material_five_days_before() -> None:
    assert CUTOFF == 5 * DAY


# (name, ready how long before December's session, sessions, the session it reaches)
CUTOFF_TABLE = [
    ("ready 6 days before: this session", 6 * DAY, SESSIONS, "JG-2026-12"),
    ("ready exactly 5 days before: this session", 5 * DAY, SESSIONS, "JG-2026-12"),
    ("ready 4 days before: the next one", 4 * DAY, SESSIONS, "JG-2027-01"),
    ("ready 4 days before, no next one: none", 4 * DAY, (DEC,), None),
    ("after the session: the next one", -DAY, SESSIONS, "JG-2027-01"),
    ("none scheduled: none", 6 * DAY, (), None),
    ("sessions in any order", 6 * DAY, (JAN, DEC), "JG-2026-12"),
]


@pytest.mark.parametrize(("name", "before", "sessions", "expected"), CUTOFF_TABLE)
def test_which_session_an_item_reaches(
    name: str, before: timedelta, sessions: tuple[BoardSession, ...], expected: str | None
) -> None:
    found = session_for(DEC.scheduled_at - before, sessions, CUTOFF)
    assert (found.session_id if found else None) == expected


def unanswered(case_ref: str | None = CASE) -> Obligation:
    sent = DEC.scheduled_at - 20 * DAY
    return Obligation(
        "01M8KHEY07QWTZKE0VW6WNXK55",
        "tam.government",
        Clock.ACKNOWLEDGEMENT,
        sent,
        sent + DAY,
        Urgency.URGENT,
        case_ref,
    )


# (name, consent recorded for the case, invited, note)
CONSENT_TABLE = [
    ("no consent: nobody invited", None, None, NO_CONSENT_NOTE),
    ("consent for every authority", Consent(CASE, True), "tam.government", None),
    (
        "consent for this authority",
        Consent(CASE, True, frozenset({"tam.government"})),
        "tam.government",
        None,
    ),
    (
        "consent for another authority only",
        Consent(CASE, True, frozenset({"tam.prosecutor"})),
        None,
        NO_CONSENT_NOTE,
    ),
    ("consent withdrawn", Consent(CASE, False), None, NO_CONSENT_NOTE),
]


@pytest.mark.parametrize(("name", "consent", "invited", "note"), CONSENT_TABLE)
def test_the_board_rung_invites_only_with_consent(
    name: str, consent: Consent | None, invited: str | None, note: str | None
) -> None:
    consents = {CASE: consent} if consent else {}
    board = BoardPlan(SESSIONS, CUTOFF, consents)
    now = DEC.scheduled_at - 6 * DAY
    rung = fire_now(unanswered(), EscalationLevel.BOARD_AGENDA, now, board, active_registry())
    body = rung_message(rung).data
    assert (body.board_session_id, body.authority_to_summon, body.note) == (  # type: ignore[attr-defined]
        "JG-2026-12",
        invited,
        note,
    )
    assert rung.to_agency == "fed.board"  # the secretariat learns of it either way


def test_the_board_rung_fires_with_no_session_when_none_is_in_time() -> None:
    board = BoardPlan((DEC,), CUTOFF, {CASE: Consent(CASE, True)})
    late = DEC.scheduled_at - 4 * DAY
    rung = fire_now(unanswered(), EscalationLevel.BOARD_AGENDA, late, board, active_registry())
    assert (rung.to_agency, rung.board_session_id, rung.authority_to_summon) == (
        "fed.board",
        None,
        "tam.government",
    )


def test_a_presumed_aggressor_is_never_invited_even_with_consent() -> None:
    board = BoardPlan(SESSIONS, CUTOFF, {CASE: Consent(CASE, True)})
    now = DEC.scheduled_at - 6 * DAY
    named = replace(unanswered(), presumed_aggressors=frozenset({"tam.government"}))
    rung = fire_now(named, EscalationLevel.BOARD_AGENDA, now, board, active_registry())
    assert (rung.to_agency, rung.board_session_id, rung.authority_to_summon, rung.note) == (
        "fed.board",
        "JG-2026-12",
        None,
        NOT_INVITED_NOTE,
    )


def test_an_obligation_with_no_case_invites_no_one() -> None:
    board = BoardPlan(SESSIONS, CUTOFF, {CASE: Consent(CASE, True)})
    now = DEC.scheduled_at - 6 * DAY
    rung = fire_now(unanswered(None), EscalationLevel.BOARD_AGENDA, now, board, active_registry())
    assert rung.authority_to_summon is None and rung.note == NO_CONSENT_NOTE


# (name, recipients, consent, refused)
SUMMONS_TABLE = [
    ("no consent", ("gro.commission",), None, ["gro.commission"]),
    ("consent for all", ("gro.commission",), Consent(CASE, True), []),
    (
        "consent for one of two",
        ("gro.commission", "gro.government"),
        Consent(CASE, True, frozenset({"gro.commission"})),
        ["gro.government"],
    ),
    ("withdrawn", ("gro.commission",), Consent(CASE, False), ["gro.commission"]),
    ("a federal recipient needs none", ("fed.board",), None, []),
]


@pytest.mark.parametrize(("name", "to", "consent", "refused"), SUMMONS_TABLE)
def test_whom_a_summons_may_invite(
    name: str, to: tuple[str, ...], consent: Consent | None, refused: list[str]
) -> None:
    assert uninvitable(CASE, to, consent, active_registry()) == refused


NOW = DEC.scheduled_at + 2 * DAY  # December's session has passed; January's is next
# (name, placed on, placed at, still owed, where it stands at NOW)
CARRY_TABLE = [
    ("on a session to come", "JG-2027-01", NOW - DAY, True, Placement("JG-2027-01")),
    (
        "missed and owed: carried",
        "JG-2026-12",
        NOW - 30 * DAY,
        True,
        Placement(JAN.session_id, "JG-2026-12"),
    ),
    ("missed and met: dropped", "JG-2026-12", NOW - 30 * DAY, False, None),
    ("no session, in time for the next", None, NOW - DAY, True, Placement("JG-2027-01")),
    ("no session, placed too late for any", None, JAN.scheduled_at - DAY, True, Placement(None)),
    ("a session not in the ledger stays", "JG-X", NOW - DAY, True, Placement("JG-X")),
    # placed before December's cut-off with no session named: December's item all the same
    ("no session, its session passed, met: dropped", None, DEC.scheduled_at - 9 * DAY, False, None),
    (
        "no session, its session passed, owed: carried",
        None,
        DEC.scheduled_at - 9 * DAY,
        True,
        Placement(JAN.session_id, DEC.session_id),
    ),
]


@pytest.mark.parametrize(("name", "placed_on", "placed_at", "owed", "expected"), CARRY_TABLE)
def test_carry_over(
    name: str, placed_on: str | None, placed_at: datetime, owed: bool, expected: Placement | None
) -> None:
    assert placement_now(placed_on, placed_at, owed, SESSIONS, CUTOFF, NOW) == expected


def test_carried_over_from_the_last_session_it_missed() -> None:
    later = NOW + 40 * DAY  # January's session has passed too, and nothing is scheduled
    assert placement_now("JG-2026-12", NOW - 30 * DAY, True, SESSIONS, CUTOFF, later) == (
        Placement(None, "JG-2027-01")
    )
