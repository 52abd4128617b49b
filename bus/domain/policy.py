"""The deadline policy: every clock the sweeper enforces, its legal basis, and the ladder.

Loaded from a TOML file (defaults shipped in bus/data/policy.toml), validated at start with a
clear error. Pure: durations in, durations out.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from bus.domain.errors import ConfigurationError
from schemas.envelope import Urgency
from schemas.tracking import EscalationLevel

# The variable a deployment names its policy file in; read by whoever runs the process.
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {
    "s": timedelta(seconds=1),  # for trials and tests; real clocks are hours and days
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}


class Clock(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    ANSWER = "answer"
    SHELTER_ANSWER = "shelter_answer"
    IMPLEMENTATION = "implementation"
    RISK_ASSESSMENT = "risk_assessment"
    PROGRESS_REPORT = "progress_report"
    REVIEW = "review"


LADDER = (
    EscalationLevel.REMINDER,
    EscalationLevel.AUTHORITY_NOTICE,
    EscalationLevel.BOARD_AGENDA,
    EscalationLevel.MONTHLY_REPORT,
)


class PolicyError(ConfigurationError, ValueError):
    """The policy file is missing a clock, names no basis, or has an unreadable value."""


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like '90m', '24h' or '30d'")
    value = float(match.group(1)) * _UNITS[match.group(2)]
    if value <= timedelta(0):
        raise ValueError(f"{text!r} must be longer than zero")
    return value


@dataclass(frozen=True)
class ClockRule:
    clock: Clock
    urgent: timedelta
    ordinary: timedelta
    basis: str
    description: str = ""

    def length(self, urgency: Urgency) -> timedelta:
        return self.urgent if urgency == Urgency.URGENT else self.ordinary


@dataclass(frozen=True)
class Policy:
    clocks: dict[Clock, ClockRule]
    ladder: dict[EscalationLevel, float]
    origin: str = "<policy>"
    compression: float = 1.0  # demo only: policy time runs this many times faster

    def length(self, clock: Clock, urgency: Urgency) -> timedelta:
        return self.clocks[clock].length(urgency) / self.compression

    def step_offset(self, clock: Clock, urgency: Urgency, level: EscalationLevel) -> timedelta:
        """How long after the clock started the ladder step ``level`` is due."""
        return self.length(clock, urgency) * self.ladder[level]

    def compressed(self, factor: float) -> Policy:
        """The same policy on a faster clock (for demos; labelled wherever it is shown)."""
        if factor <= 0:
            raise PolicyError("compression factor must be positive")
        return Policy(self.clocks, self.ladder, self.origin, self.compression * factor)

    @classmethod
    def from_toml(cls, text: str, *, origin: str = "<policy>") -> Policy:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{origin}: not valid TOML: {exc}") from exc
        clocks_raw = raw.get("clocks")
        if not isinstance(clocks_raw, dict):
            raise PolicyError(f"{origin}: missing the [clocks.<name>] tables")
        unknown = set(clocks_raw) - {c.value for c in Clock}
        if unknown:
            raise PolicyError(f"{origin}: unknown clock(s): {', '.join(sorted(unknown))}")
        clocks = {clock: _clock(clock, clocks_raw.get(clock.value), origin) for clock in Clock}
        return cls(clocks, _ladder(raw.get("ladder"), origin), origin)

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        """Load ``path``, else the shipped defaults."""
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
            return cls.from_toml(text, origin=str(path))
        text = resources.files("bus").joinpath("data/policy.toml").read_text("utf-8")
        return cls.from_toml(text, origin="bus/data/policy.toml")


def _clock(clock: Clock, raw: Any, origin: str) -> ClockRule:
    where = f"{origin}: [clocks.{clock.value}]"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} is missing")
    extra = set(raw) - {"urgent", "ordinary", "basis", "description"}
    if extra:
        raise PolicyError(f"{where}: unknown key(s): {', '.join(sorted(extra))}")
    basis = raw.get("basis")
    if not isinstance(basis, str) or not basis.strip():
        raise PolicyError(f'{where}: every clock needs its legal basis (or basis = "policy")')
    lengths = {}
    for urgency in ("urgent", "ordinary"):
        value = raw.get(urgency)
        if not isinstance(value, str):
            raise PolicyError(f"{where}: {urgency} must be a duration string like '24h'")
        try:
            lengths[urgency] = parse_duration(value)
        except ValueError as exc:
            raise PolicyError(f"{where}: {urgency}: {exc}") from exc
    description = raw.get("description", "")
    return ClockRule(clock, lengths["urgent"], lengths["ordinary"], basis.strip(), str(description))


def _ladder(raw: Any, origin: str) -> dict[EscalationLevel, float]:
    if not isinstance(raw, dict):
        raise PolicyError(f"{origin}: missing the [ladder] table")
    ladder: dict[EscalationLevel, float] = {}
    for level in LADDER:
        value = raw.get(level.value)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 1.0:
            raise PolicyError(f"{origin}: [ladder] {level.value} must be a number >= 1.0")
        ladder[level] = float(value)
    factors = [ladder[level] for level in LADDER]
    if factors != sorted(factors):
        raise PolicyError(f"{origin}: [ladder] steps must not come before the step below them")
    return ladder
