"""IACHR precautionary measures beside the Mechanism's own: which dates are plausible, and what
an implementation meeting is told about each MC its requests say they also serve.

SEGOB's 2022 protocol for implementing international precautionary measures starts its clocks
on the day the foreign ministry (SRE) notified SEGOB, not on the Commission's grant, so both
dates are kept and the days are counted from the notice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from schemas.iachr import IachrMeasureBody


@dataclass(frozen=True)
class MeasureDates:
    """An MC number as the ledger holds it (the latest message for it stands)."""

    measure: str
    granted_on: date
    notified_on: date
    state: str
    beneficiaries: int
    case_ref: str | None = None

    @classmethod
    def of(cls, body: IachrMeasureBody) -> MeasureDates:
        return cls(
            body.measure,
            body.granted_on,
            body.notified_on,
            body.state,
            body.beneficiaries,
            body.case_ref,
        )


@dataclass(frozen=True)
class LinkedMeasure:
    """One MC for the case's agenda: its dates, or ``registered`` False ("sin registrar")."""

    measure: str
    registered: bool
    granted_on: date | None = None
    notified_on: date | None = None
    days_since_notice: int | None = None
    state: str | None = None


def date_problem(granted_on: date, notified_on: date, today: date) -> str | None:
    """Why these dates cannot be a measure's, or None. ``today`` is the recording day in UTC,
    which is never behind Mexico's calendar, so a date that is today in Mexico is accepted."""
    if granted_on > today:
        return f"granted_on {granted_on} is in the future (today is {today})"
    if notified_on > today:
        return f"notified_on {notified_on} is in the future (today is {today})"
    if notified_on < granted_on:
        return (
            f"notified_on {notified_on} is before granted_on {granted_on}: SRE can notify SEGOB "
            "of a measure only once the Commission has granted it"
        )
    return None


def refusal(body: IachrMeasureBody, now: datetime) -> str | None:
    """Why the hub refuses this measure when recording it at ``now``, or None."""
    return date_problem(body.granted_on, body.notified_on, now.date())


def linked(
    measures: Iterable[str], known: Mapping[str, MeasureDates], today: date
) -> list[LinkedMeasure]:
    """Each MC in ``measures``, with its dates when the ledger knows it, in MC order."""
    lines = []
    for mc in sorted(set(measures)):
        found = known.get(mc)
        if found is None:
            lines.append(LinkedMeasure(mc, registered=False))
            continue
        lines.append(
            LinkedMeasure(
                mc,
                registered=True,
                granted_on=found.granted_on,
                notified_on=found.notified_on,
                days_since_notice=(today - found.notified_on).days,
                state=found.state,
            )
        )
    return lines


def state_warning(measure: str, request_state: str, registered: MeasureDates | None) -> str | None:
    """A request linked to an MC registered in another state: worth a word, not a refusal
    (a beneficiary may have moved, or the MC cover people in two states)."""
    if registered is None or registered.state == request_state:
        return None
    return (
        f"{measure} is registered in {registered.state}, and this request is for "
        f"{request_state}: check the MC number"
    )
