"""The joint-responsibility scorecard: how each state answers the Mechanism, from the record.

Pure: facts in (timestamps from the ledger), figures out. Every figure is computed "as of" a
moment (now, or the end of a reported month), from timestamps rather than stored statuses,
so a past month reads the same whenever the report is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from statistics import median

from schemas.registry import AgencyKind, AgencyRegistry


class Section(StrEnum):
    """Where an agency's figures are shown: state authorities by state, each shelter and each
    federal unit on a row of its own (a shelter in Mexico City is not the city's government)."""

    STATE = "state"
    SHELTER = "shelter"
    FEDERAL = "federal"


STATE_AUTHORITIES = frozenset({AgencyKind.GOVERNMENT, AgencyKind.PROSECUTOR, AgencyKind.COMMISSION})


def section_of(agency: str, registry: AgencyRegistry) -> Section:
    """The section of ``agency``: an agency the registry no longer lists is counted with the
    federal units rather than added to a state's figures."""
    record = registry.get(agency)
    if record is None:
        return Section.FEDERAL
    if record.kind in STATE_AUTHORITIES:
        return Section.STATE
    return Section.SHELTER if record.kind is AgencyKind.SHELTER else Section.FEDERAL


@dataclass(frozen=True)
class RecipientFacts:
    """One request as received by one agency."""

    state: str
    agency: str
    sent_at: datetime
    ack_due: datetime | None
    acknowledged_at: datetime | None
    answer_due: datetime | None = None
    decided_at: datetime | None = None
    recalled_at: datetime | None = None


@dataclass(frozen=True)
class CommitmentFacts:
    state: str
    agency: str
    due: datetime
    made_at: datetime
    fulfilled_at: datetime | None = None  # fully fulfilled
    ended_at: datetime | None = None  # fulfilled, partly fulfilled or withdrawn


@dataclass(frozen=True)
class SummonsFacts:
    """A Board summons to one agency, and whether it attended."""

    state: str
    agency: str
    sent_at: datetime
    attended: bool | None  # None: no attendance recorded (yet)


@dataclass(frozen=True)
class StateScore:
    state: str
    requests_received: int
    acknowledged_on_time: int
    acknowledgements_due: int
    median_hours_to_acknowledge: float | None
    commitments_due: int
    commitments_kept_on_time: int
    open_overdue: int
    summons: int
    summons_attended: int
    section: Section = Section.STATE
    agency: str | None = None  # the shelter or the federal unit; None for a state's row

    @property
    def acknowledged_on_time_pct(self) -> float | None:
        return _pct(self.acknowledged_on_time, self.acknowledgements_due)

    @property
    def kept_on_time_pct(self) -> float | None:
        return _pct(self.commitments_kept_on_time, self.commitments_due)

    @property
    def summons_attended_pct(self) -> float | None:
        return _pct(self.summons_attended, self.summons)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _by(when: datetime | None, asof: datetime) -> bool:
    return when is not None and when <= asof


def scorecard(
    recipients: list[RecipientFacts],
    commitments: list[CommitmentFacts],
    summons: list[SummonsFacts],
    *,
    asof: datetime,
    registry: AgencyRegistry,
    since: datetime | None = None,
) -> list[StateScore]:
    """Figures per state for requests sent in [since, asof] (all time when since is None),
    then per shelter and per federal unit (``Section``), each section sorted by its key.

    - acknowledged on time: of the requests whose acknowledgement was due by ``asof`` or was
      given, those acknowledged (institutionally; a delivery receipt does not count) by the
      deadline;
    - median time to acknowledge: over the acknowledged ones, in hours;
    - kept on time: of the commitments settled in the period, those fully fulfilled by their
      due date; a commitment is settled when it ends before its due date (fulfilled early
      counts at once), else when its due date passes;
    - open overdue (as of ``asof``): acknowledgements, answers and commitments past their
      deadline and still owed, whatever month they were sent in;
    - Board summons attended: of the summons sent in the period.
    """

    def in_period(when: datetime) -> bool:
        return when <= asof and (since is None or when >= since)

    def group(state: str, agency: str) -> Group:
        section = section_of(agency, registry)
        return (section, state, None) if section is Section.STATE else (section, state, agency)

    groups = sorted(
        {group(r.state, r.agency) for r in recipients}
        | {group(c.state, c.agency) for c in commitments}
        | {group(s.state, s.agency) for s in summons},
        key=order,
    )
    scores = []
    for key in groups:
        section, state, _ = key
        mine = [r for r in recipients if group(r.state, r.agency) == key]
        received = [r for r in mine if in_period(r.sent_at)]
        due_or_done = [r for r in received if _acknowledgement_counts(r, asof)]
        on_time = [r for r in due_or_done if _acknowledged_on_time(r, asof)]
        hours = [
            (r.acknowledged_at - r.sent_at).total_seconds() / 3600
            for r in received
            if _by(r.acknowledged_at, asof) and r.acknowledged_at is not None
        ]
        owed = [c for c in commitments if group(c.state, c.agency) == key]
        settled = [c for c in owed if in_period(settled_at(c))]
        kept = [c for c in settled if kept_on_time(c)]
        overdue = sum(_overdue(r, asof) for r in mine) + sum(
            1 for c in owed if c.due < asof and not _by(c.ended_at, asof) and c.made_at <= asof
        )
        summoned = [s for s in summons if group(s.state, s.agency) == key and in_period(s.sent_at)]
        scores.append(
            StateScore(
                state=state,
                requests_received=len(received),
                acknowledged_on_time=len(on_time),
                acknowledgements_due=len(due_or_done),
                median_hours_to_acknowledge=round(median(hours), 2) if hours else None,
                commitments_due=len(settled),
                commitments_kept_on_time=len(kept),
                open_overdue=overdue,
                summons=len(summoned),
                summons_attended=sum(1 for s in summoned if s.attended),
                section=section,
                agency=key[2],
            )
        )
    return scores


Group = tuple[Section, str, str | None]  # (section, state, agency: None for a state's row)
SECTIONS = tuple(Section)


def order(key: Group) -> tuple[int, str, str]:
    section, state, agency = key
    return SECTIONS.index(section), agency or "", state


def settled_at(c: CommitmentFacts) -> datetime:
    """When a commitment's outcome is known: the day it ended, if that was by its due date
    (an early fulfilment is kept from that day on), else its due date."""
    if c.ended_at is not None and c.ended_at <= c.due:
        return c.ended_at
    return c.due


def kept_on_time(c: CommitmentFacts) -> bool:
    """Fully fulfilled by (or at) its due date, whenever that date falls."""
    return c.fulfilled_at is not None and c.fulfilled_at <= c.due


def _overdue(r: RecipientFacts, asof: datetime) -> int:
    if r.sent_at > asof or _by(r.recalled_at, asof):
        return 0
    if not _by(r.acknowledged_at, asof):
        return int(r.ack_due is not None and r.ack_due < asof)
    if not _by(r.decided_at, asof):
        return int(r.answer_due is not None and r.answer_due < asof)
    return 0


def _acknowledgement_counts(r: RecipientFacts, asof: datetime) -> bool:
    """Given, or due and not recalled before it was due."""
    if _by(r.acknowledged_at, asof):
        return True
    return _by(r.ack_due, asof) and not _by(r.recalled_at, asof)


def _acknowledged_on_time(r: RecipientFacts, asof: datetime) -> bool:
    if r.acknowledged_at is None or r.acknowledged_at > asof:
        return False
    return r.ack_due is None or r.acknowledged_at <= r.ack_due
