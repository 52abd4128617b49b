"""The rules a message is judged by: the agency registry and the deadline policy in force.

Built once by whoever runs the hub and passed in, so that the domain reads no process-wide
state and a test can judge a message under rules of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from bus.domain.policy import Clock, Policy
from schemas.registry import AgencyKind, AgencyRegistry


@dataclass(frozen=True)
class Rules:
    registry: AgencyRegistry
    # None: recipients get no deadlines (the lifecycle judged on its own, as in table tests)
    policy: Policy | None = None

    def answer_clock(self, agency: str) -> Clock:
        return answer_clock(agency, self.registry)


def answer_clock(agency: str, registry: AgencyRegistry) -> Clock:
    """The clock that governs ``agency``'s answer (shelters have their own)."""
    shelter = registry[agency].kind is AgencyKind.SHELTER
    return Clock.SHELTER_ANSWER if shelter else Clock.ANSWER
