"""The caseload projection: from the ledger's own weekly history, the open cases, the open
requests per state and the federal workload per officer 3, 6 and 12 months ahead, each with an
80 % interval, and which states' silence weighs most on the federal figure.

Pure: the history (and its moment) is passed in, the random numbers come from a seeded
generator, so the same history gives the same figures. The model is spelled out in
docs/forecast.md:

- intake: each week's new cases are Poisson with a rate ``lam``; ``lam`` itself is uncertain and
  drawn from its Gamma posterior given the history (Jeffreys prior: shape = cases + 0.5,
  rate = weeks);
- closures: each open case closes in a given week with probability ``c``, drawn from its Beta
  posterior given the closures seen and the case-weeks at risk (Jeffreys: +0.5 each side);
- a case open now is still open after ``h`` weeks with probability ``(1 - c) ** h`` (binomial);
  the new cases still open then are Poisson with mean ``lam * sum((1 - c) ** j, j < h)``;
- per state: the same, for the cases with a request to that state, whose share of the intake is
  the share of the history's cases that involved it; open requests scale with them;
- federal load = open cases (one beneficiary each) + per state, its unanswered share of its own
  open cases (the measures the Mechanism carries itself where the state is silent); per officer
  = federal load / officers.

Intervals are the 10th and 90th percentiles of the draws (an 80 % interval); the middle figure
is the median.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from bus.domain.errors import RefusalError

MIN_WEEKS = 4
DEFAULT_WEEKS = 26  # half a year of history, unless asked otherwise
MAX_WEEKS = 520  # ten years is more than any projection needs
HORIZONS = ((3, 13), (6, 26), (12, 52))  # (months, weeks)
LEVEL = 0.8  # the interval's coverage
DRAWS = 1000
SEED = 0  # the same history gives the same figures
# Above this mean a Poisson or binomial count is drawn from its normal approximation: exact
# enough for the 10th to 90th percentiles, and keeps a 32-state projection under a second.
_EXACT_BELOW = 40.0


class ForecastRefused(RefusalError, ValueError):
    """The projection cannot be made as asked (too short a history, no officers)."""

    code = "forecast_refused"


@dataclass(frozen=True)
class WeekFacts:
    """One week of the history: cases opened (first request), closed, and open at its end."""

    start: datetime
    new_cases: int
    closed_cases: int
    open_at_end: int


@dataclass(frozen=True)
class StateFacts:
    """One state as the ledger shows it: what it has open now and how it answered lately."""

    state: str
    open_cases: int  # cases with a request still open to one of the state's agencies
    open_requests: int  # those requests (one per recipient agency)
    cases_in_history: int  # cases with a request to the state sent in the history's weeks
    requests_in_history: int
    due: int  # requests in the history whose acknowledgement has come due
    unanswered: int  # of those, neither acknowledged nor answered by their due time

    @property
    def unanswered_share(self) -> float:
        """0 when nothing has come due: no evidence of silence."""
        return self.unanswered / self.due if self.due else 0.0

    @property
    def requests_per_case(self) -> float:
        if self.open_cases:
            return self.open_requests / self.open_cases
        if self.cases_in_history:
            return self.requests_in_history / self.cases_in_history
        return 1.0


@dataclass(frozen=True)
class History:
    asof: datetime  # the end of the last week
    open_at_start: int  # open when the first week began
    weeks: tuple[WeekFacts, ...]
    states: tuple[StateFacts, ...] = ()
    cases_in_history: int = 0  # distinct cases with a request sent in the history's weeks

    @property
    def open_now(self) -> int:
        return self.weeks[-1].open_at_end if self.weeks else self.open_at_start

    @property
    def new_cases(self) -> int:
        return sum(w.new_cases for w in self.weeks)

    @property
    def closed_cases(self) -> int:
        return sum(w.closed_cases for w in self.weeks)

    @property
    def case_weeks(self) -> int:
        """The case-weeks at risk of closing: each week, the cases open at its start and the
        new ones (a case may close in the week it opened), so closures never exceed them."""
        starts = [self.open_at_start, *(w.open_at_end for w in self.weeks[:-1])]
        return sum(starts) + self.new_cases


@dataclass(frozen=True)
class Interval:
    low: float
    mid: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low


@dataclass(frozen=True)
class StateProjection:
    state: str
    unanswered_share: float
    open_cases: Interval
    open_requests: Interval


@dataclass(frozen=True)
class HorizonProjection:
    months: int
    weeks: int
    until: datetime
    intake: Interval  # new cases over the horizon
    open_cases: Interval  # = beneficiaries
    federal_load: Interval
    per_officer: Interval
    states: tuple[StateProjection, ...]


@dataclass(frozen=True)
class StateSilence:
    """How much one state's silence moves the federal figure at the last horizon: beneficiaries
    per officer as projected, minus the same if the state answered like the median state."""

    state: str
    unanswered_share: float
    expected_open_cases: float
    per_officer_change: float


@dataclass(frozen=True)
class Forecast:
    asof: datetime
    weeks_of_history: int
    officers: int
    weekly_intake: float  # new cases a week, observed
    weekly_closure_rate: float  # share of open cases closing in a week, observed
    open_now: int
    per_officer_now: float
    median_unanswered_share: float
    horizons: tuple[HorizonProjection, ...]
    path: tuple[Interval, ...]  # open cases at the end of each projected week (the chart)
    silence: tuple[StateSilence, ...]  # most weight first


def forecast(history: History, officers: int, *, seed: int = SEED, draws: int = DRAWS) -> Forecast:
    """Project ``history`` over ``HORIZONS`` for a staff of ``officers``."""
    if officers < 1:
        raise ForecastRefused(f"officers must be a whole number of at least 1; got {officers}")
    n = len(history.weeks)
    if n < MIN_WEEKS:
        raise ForecastRefused(
            f"the history is too short to project: {n} complete week(s), "
            f"at least {MIN_WEEKS} are needed",
            extra={"weeks": n, "minimum": MIN_WEEKS},
        )
    rng = random.Random(seed)
    rates = [_draw_rates(history, rng) for _ in range(draws)]
    shares = {s.state: _intake_share(s, history) for s in history.states}
    horizons = []
    for months, weeks in HORIZONS:
        horizons.append(_horizon(history, officers, months, weeks, rates, shares, rng))
    longest = HORIZONS[-1][1]
    path = tuple(
        _interval([_open_after(history.open_now, 1.0, lam, c, h, rng) for lam, c in rates])
        for h in range(1, longest + 1)
    )
    lam_hat = history.new_cases / n
    c_hat = history.closed_cases / history.case_weeks if history.case_weeks else 0.0
    typical = median([s.unanswered_share for s in history.states]) if history.states else 0.0
    return Forecast(
        asof=history.asof,
        weeks_of_history=n,
        officers=officers,
        weekly_intake=lam_hat,
        weekly_closure_rate=c_hat,
        open_now=history.open_now,
        per_officer_now=_load_now(history) / officers,
        median_unanswered_share=typical,
        horizons=tuple(horizons),
        path=path,
        silence=_silence(history, officers, lam_hat, c_hat, shares, typical, longest),
    )


def _draw_rates(history: History, rng: random.Random) -> tuple[float, float]:
    lam = rng.gammavariate(history.new_cases + 0.5, 1.0 / len(history.weeks))
    at_risk = history.case_weeks
    if at_risk <= 0:
        return lam, 0.0
    closed = min(history.closed_cases, at_risk)
    return lam, rng.betavariate(closed + 0.5, at_risk - closed + 0.5)


def _intake_share(state: StateFacts, history: History) -> float:
    if not history.cases_in_history:
        return 0.0
    return min(1.0, state.cases_in_history / history.cases_in_history)


def _horizon(
    history: History,
    officers: int,
    months: int,
    weeks: int,
    rates: list[tuple[float, float]],
    shares: dict[str, float],
    rng: random.Random,
) -> HorizonProjection:
    intake, open_cases, load = [], [], []
    per_state: dict[str, list[float]] = {s.state: [] for s in history.states}
    # each state's fixed figures read once, not once a draw: the draws are the hot loop
    mine = [
        (s.open_cases, shares[s.state], s.unanswered_share, per_state[s.state])
        for s in history.states
    ]
    open_now = history.open_now
    for lam, c in rates:
        intake.append(float(_poisson(lam * weeks, rng)))
        survive, still = (1.0 - c) ** weeks, _still_open_weeks(c, weeks)
        total = float(_binomial(open_now, survive, rng) + _poisson(lam * still, rng))
        carried = total
        for open_cases_now, share, silent, drawn in mine:
            projected = float(
                _binomial(open_cases_now, survive, rng) + _poisson(lam * share * still, rng)
            )
            drawn.append(projected)
            carried += silent * projected
        open_cases.append(total)
        load.append(carried)
    states = tuple(
        StateProjection(
            state=s.state,
            unanswered_share=s.unanswered_share,
            open_cases=_interval(per_state[s.state]),
            open_requests=_interval([v * s.requests_per_case for v in per_state[s.state]]),
        )
        for s in history.states
    )
    return HorizonProjection(
        months=months,
        weeks=weeks,
        until=history.asof + timedelta(weeks=weeks),
        intake=_interval(intake),
        open_cases=_interval(open_cases),
        federal_load=_interval(load),
        per_officer=_interval([x / officers for x in load]),
        states=states,
    )


def _open_after(
    open_now: int, share: float, lam: float, c: float, weeks: int, rng: random.Random
) -> float:
    """Cases open after ``weeks``: today's that survive, plus the new ones still open."""
    survive = (1.0 - c) ** weeks
    arrivals = lam * share * _still_open_weeks(c, weeks)
    return float(_binomial(open_now, survive, rng) + _poisson(arrivals, rng))


def _still_open_weeks(c: float, weeks: int) -> float:
    """sum((1 - c) ** j for j < weeks): how many weeks' intake is still open at the end."""
    return float(weeks) if c <= 0 else (1.0 - (1.0 - c) ** weeks) / c


def _load_now(history: History) -> float:
    return history.open_now + sum(s.unanswered_share * s.open_cases for s in history.states)


def _silence(
    history: History,
    officers: int,
    lam: float,
    c: float,
    shares: dict[str, float],
    typical: float,
    weeks: int,
) -> tuple[StateSilence, ...]:
    found = []
    for s in history.states:
        expected = s.open_cases * (1.0 - c) ** weeks + lam * shares[s.state] * _still_open_weeks(
            c, weeks
        )
        change = (s.unanswered_share - typical) * expected / officers
        found.append(StateSilence(s.state, s.unanswered_share, expected, change))
    return tuple(sorted(found, key=lambda x: (-x.per_officer_change, x.state)))


def _interval(values: list[float]) -> Interval:
    ordered = sorted(values)
    tail = (1.0 - LEVEL) / 2
    return Interval(
        low=_quantile(ordered, tail), mid=_quantile(ordered, 0.5), high=_quantile(ordered, 1 - tail)
    )


def _quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _poisson(mean: float, rng: random.Random) -> int:
    if mean <= 0:
        return 0
    if mean >= _EXACT_BELOW:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    # Knuth: count uniform draws until their product falls below exp(-mean)
    uniform = rng.random  # bound once: this loop runs about a million times a forecast
    limit, product, count = math.exp(-mean), uniform(), 0
    while product > limit:
        product *= uniform()
        count += 1
    return count


def _binomial(n: int, p: float, rng: random.Random) -> int:
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    spread = n * p * (1 - p)
    if spread >= _EXACT_BELOW:
        return min(n, max(0, round(rng.gauss(n * p, math.sqrt(spread)))))
    if p > 0.5:
        return n - _binomial(n, 1 - p, rng)
    # inversion (few successes expected here): walk up the probabilities from k = 0
    q = 1 - p
    ratio, k = p / q, 0
    chance, u = q**n, rng.random()
    while u > chance and k < n:
        u -= chance
        k += 1
        chance *= ratio * (n - k + 1) / k
    return k
