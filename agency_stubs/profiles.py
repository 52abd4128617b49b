"""How a simulated agency behaves: prompt, slow, silent, declining, fulfilling only in part, or
promising more time than the law allows."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class Decision(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"


class Fulfilment(StrEnum):
    FULL = "full"
    PARTIAL = "partial"
    OPEN = "open"  # commits and has not fulfilled yet


@dataclass(frozen=True)
class Profile:
    name: str
    delay: tuple[float, float]  # seconds before each step, drawn uniformly (seeded)
    acknowledges: bool  # a silent agency's client receipts, but nobody ever answers
    decision: Decision = Decision.ACCEPT
    fulfilment: Fulfilment | None = Fulfilment.FULL  # None: commits to nothing
    # Days it commits to, whatever the request asks; None: by the request's ``implement_by``
    # (a week when it names none)
    commits_days: float | None = None

    def pause(self, rng: random.Random) -> float:
        low, high = self.delay
        return rng.uniform(low, high)


PROFILES = {
    "prompt": Profile("prompt", (0.05, 0.3), True),
    "slow": Profile("slow", (1.0, 3.0), True),
    "silent": Profile("silent", (0.0, 0.0), False, fulfilment=None),
    "declines": Profile("declines", (0.1, 0.5), True, Decision.DECLINE, None),
    "partial": Profile("partial", (0.1, 0.5), True, Decision.ACCEPT, Fulfilment.PARTIAL),
    # two weeks for anything, urgent or not: beyond the legal limit of urgent measures (9 h)
    "late": Profile("late", (0.1, 0.5), True, Decision.ACCEPT, Fulfilment.OPEN, 14.0),
}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None
