"""The Mechanism's own row of the scorecard: per federal unit, how it kept the clocks the law
sets it (started, met on time, met late, open, overdue, median time to meet). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from statistics import median

from bus.domain.federal_clocks import OWNERS, FederalObligation, Standing


@dataclass(frozen=True)
class UnitScore:
    unit: str
    started: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0  # still within its deadline
    overdue: int = 0  # past its deadline and not met
    median_hours_to_meet: float | None = None

    @property
    def on_time_pct(self) -> float | None:
        met = self.on_time + self.late + self.overdue  # what is due by now
        return None if met == 0 else 100.0 * self.on_time / met


def as_of(obligation: FederalObligation, asof: datetime) -> Standing:
    """Where ``obligation`` stood at ``asof``: a meeting after it had not happened yet."""
    if obligation.met_at is not None and obligation.met_at > asof:
        obligation = replace(obligation, met_at=None, met_by=None)
    return obligation.standing(asof)


def unit_scores(
    obligations: Iterable[FederalObligation],
    asof: datetime,
    units: Iterable[str] = (),
) -> list[UnitScore]:
    """One score per unit owing a clock (every unit in ``units`` and ``OWNERS``, even with none),
    over the obligations started by ``asof``; sorted by unit id."""
    counts: dict[str, dict[Standing, int]] = {u: {} for u in {*OWNERS.values(), *units}}
    hours: dict[str, list[float]] = {u: [] for u in counts}
    for ob in obligations:
        if ob.started_at is None or ob.started_at > asof:
            continue
        standing = as_of(ob, asof)
        tally = counts.setdefault(ob.owner, {})
        tally[standing] = tally.get(standing, 0) + 1
        if standing in (Standing.ON_TIME, Standing.LATE):
            assert ob.met_at is not None
            met = max((ob.met_at - ob.started_at).total_seconds(), 0.0)
            hours.setdefault(ob.owner, []).append(met / 3600)
    return [
        UnitScore(
            unit,
            sum(tally.values()),
            tally.get(Standing.ON_TIME, 0),
            tally.get(Standing.LATE, 0),
            tally.get(Standing.OPEN, 0),
            tally.get(Standing.OVERDUE, 0),
            round(median(hours[unit]), 2) if hours.get(unit) else None,
        )
        for unit, tally in sorted(counts.items())
    ]
