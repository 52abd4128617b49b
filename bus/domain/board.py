"""The Governing Board's rules, pure: which session an item reaches (its material is due
``[board] material_before`` before the session, LPPDDHP art. 18), whom it may invite (a state
authority only with the beneficiary's recorded consent, LPPDDHP art. 8), and which unresolved
items carry over to the next session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.registry import AgencyRegistry

NO_CONSENT_NOTE = "sin consentimiento: no se invita a la autoridad"


@dataclass(frozen=True)
class BoardSession:
    session_id: str
    scheduled_at: datetime


@dataclass(frozen=True)
class Consent:
    """The beneficiary's latest word on a case: given or withdrawn, for some agencies or all."""

    case_ref: str
    given: bool
    agencies: frozenset[str] = frozenset()  # empty: every state authority

    def covers(self, agency: str) -> bool:
        return self.given and (not self.agencies or agency in self.agencies)


def consented(consent: Consent | None, agency: str) -> bool:
    return consent is not None and consent.covers(agency)


def session_for(
    ready_at: datetime, sessions: Iterable[BoardSession], cutoff: timedelta
) -> BoardSession | None:
    """The first session whose material cut-off (``cutoff`` before it) is not before
    ``ready_at``: an item ready too late for one session goes to the next."""
    fit = [s for s in sessions if s.scheduled_at - cutoff >= ready_at]
    return min(fit, key=lambda s: s.scheduled_at, default=None)


@dataclass(frozen=True)
class BoardPlan:
    """What the ladder's Board rung needs: the upcoming sessions, the cut-off and the
    recorded consents by case number."""

    sessions: tuple[BoardSession, ...] = ()
    cutoff: timedelta = timedelta(0)
    consents: Mapping[str, Consent] = field(default_factory=dict)

    def session_for(self, ready_at: datetime) -> BoardSession | None:
        return session_for(ready_at, self.sessions, self.cutoff)

    def may_invite(self, case_ref: str | None, agency: str) -> bool:
        return case_ref is not None and consented(self.consents.get(case_ref), agency)


def uninvitable(
    case_ref: str | None,
    recipients: Iterable[str],
    consent: Consent | None,
    registry: AgencyRegistry,
) -> list[str]:
    """The state authorities among ``recipients`` the case's consent does not cover (federal
    recipients need none): a summons naming any of them is refused."""
    state = [r for r in recipients if r in registry and registry[r].state is not None]
    if case_ref is None:
        return state
    return [r for r in state if not consented(consent, r)]


def no_consent_detail(case_ref: str | None, agencies: Sequence[str]) -> str:
    named = ", ".join(agencies)
    if case_ref is None:
        return f"a Board summons needs the case number to check consent; it invites {named}"
    return (
        f"no recorded consent of the beneficiary of case {case_ref} to invite {named} to a "
        "Board session (LPPDDHP art. 8): record it first with mech.tracking.board_consent.v1 "
        "(`mechbus board consent`)"
    )


@dataclass(frozen=True)
class Placement:
    """Where an item placed on the agenda stands now: the session it is on (None: no session
    yet) and, when its own session passed with the item unresolved, the one it came from."""

    session_id: str | None
    carried_from: str | None = None


def placed_on(
    named: str | None, placed_at: datetime, sessions: Sequence[BoardSession], cutoff: timedelta
) -> str | None:
    """The session an item is on: the one its rung named or, naming none, the first session
    (past or to come) whose cut-off it met; None while no such session is scheduled."""
    if named is not None:
        return named
    first = session_for(placed_at, sessions, cutoff)
    return first.session_id if first else None


def placement_now(
    placed_on_id: str | None,
    placed_at: datetime,
    owed: bool,
    sessions: Sequence[BoardSession],
    cutoff: timedelta,
    now: datetime,
) -> Placement | None:
    """The session an agenda item belongs to at ``now``; None when it has dropped off (its
    session passed and it was met).

    An item on a session still to come stays there. One whose session passed and is still
    owed carries over to the first session after ``now`` (from the last one it missed); it
    was ready long before, so no cut-off holds it back. One placed with no session is on the
    first session whose cut-off it met, once that session is scheduled, and from then on is
    carried over or dropped like any other: a met item does not wait for every session to come.
    """
    by_id = {s.session_id: s for s in sessions}
    upcoming = [s for s in sessions if s.scheduled_at >= now]
    placed = placed_on(placed_on_id, placed_at, sessions, cutoff)
    own = by_id.get(placed) if placed is not None else None
    if own is None or own.scheduled_at >= now:
        return Placement(placed)  # no session yet, one to come, or one not in the ledger
    if not owed:
        return None
    missed = [s for s in sessions if own.scheduled_at <= s.scheduled_at < now]
    last = max(missed, key=lambda s: s.scheduled_at)
    following = min(upcoming, key=lambda s: s.scheduled_at, default=None)
    return Placement(following.session_id if following else None, last.session_id)
