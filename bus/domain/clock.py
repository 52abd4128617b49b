"""The time port: the one way the bus reads the wall clock, so tests and replays pass their own.

(``bus.domain.policy.Clock`` is something else: a deadline clock of the policy, such as the
acknowledgement clock. Hence this port's name.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class TimeSource(Protocol):
    """Anything that says what time it is now, timezone-aware, in UTC."""

    def __call__(self) -> datetime: ...


def utc_now() -> datetime:
    """The real time: the default ``TimeSource`` everywhere."""
    return datetime.now(UTC)
