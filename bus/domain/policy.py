"""The deadline policy: every clock the sweeper enforces, who it binds, its basis, and the ladder.

Loaded from a TOML file (defaults shipped in bus/data/policy.toml), validated at start with a
clear error. A clock's basis is either articles of the law, each held with its words by the
file's own ``[articles]`` table, or a stated reason, shown as the Mechanism's policy. Pure:
durations in, durations out.
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
    MEASURES_ISSUED = "measures_issued"
    DECISION_COMMUNICATED = "decision_communicated"
    ACKNOWLEDGEMENT = "acknowledgement"
    ANSWER = "answer"
    SHELTER_ANSWER = "shelter_answer"
    IMPLEMENTATION = "implementation"
    RISK_ASSESSMENT = "risk_assessment"
    PROGRESS_REPORT = "progress_report"
    REVIEW = "review"


class Binds(StrEnum):
    """Whom a clock holds to account."""

    FEDERAL = "federal"  # the Mechanism itself (its units, the Board)
    AGENCIES = "agencies"  # state agencies, commissions, prosecutors, shelters


POLICY_OF_THE_MECHANISM = "policy of the Mechanism"
# An article named in free text: "art. 26", "arts. 46-47"
_ARTICLE = re.compile(r"\barts?\.\s*\d+", re.IGNORECASE)

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
    urgent: timedelta | None
    ordinary: timedelta | None
    binds: Binds
    articles: tuple[str, ...] = ()  # keys of the policy's [articles] table
    reason: str = ""  # why this length, when no article sets it
    description: str = ""

    @property
    def legal(self) -> bool:
        return bool(self.articles)

    @property
    def basis(self) -> str:
        """One line for every view: the articles, or "policy of the Mechanism: <reason>"."""
        if self.articles:
            return "; ".join(self.articles)
        return f"{POLICY_OF_THE_MECHANISM}: {self.reason}"

    def runs_in(self, urgency: Urgency) -> bool:
        return (self.urgent if urgency == Urgency.URGENT else self.ordinary) is not None

    def length(self, urgency: Urgency) -> timedelta:
        value = self.urgent if urgency == Urgency.URGENT else self.ordinary
        if value is None:
            raise PolicyError(f"the {self.clock.value} clock does not run for {urgency} requests")
        return value


@dataclass(frozen=True)
class BoardRule:
    """When an item must be ready to reach a session, and the articles that say so."""

    material_before: timedelta
    articles: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    clocks: dict[Clock, ClockRule]
    ladder: dict[EscalationLevel, float]
    articles: dict[str, str]
    board: BoardRule
    origin: str = "<policy>"
    compression: float = 1.0  # demo only: policy time runs this many times faster

    def length(self, clock: Clock, urgency: Urgency) -> timedelta:
        return self.clocks[clock].length(urgency) / self.compression

    def runs(self, clock: Clock, urgency: Urgency) -> bool:
        return self.clocks[clock].runs_in(urgency)

    def board_cutoff(self) -> timedelta:
        """How long before a session its material is due (compressed like every clock)."""
        return self.board.material_before / self.compression

    def words(self, article: str) -> str:
        """What ``article`` says, as the policy's own table holds it."""
        return self.articles[article]

    def step_offset(self, clock: Clock, urgency: Urgency, level: EscalationLevel) -> timedelta:
        """How long after the clock started the ladder step ``level`` is due."""
        return self.length(clock, urgency) * self.ladder[level]

    def compressed(self, factor: float) -> Policy:
        """The same policy on a faster clock (for demos; labelled wherever it is shown)."""
        if factor <= 0:
            raise PolicyError("compression factor must be positive")
        return Policy(
            self.clocks,
            self.ladder,
            self.articles,
            self.board,
            self.origin,
            self.compression * factor,
        )

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
        articles = _articles(raw.get("articles"), origin)
        clocks = {
            clock: _clock(clock, clocks_raw.get(clock.value), articles, origin) for clock in Clock
        }
        board = _board(raw.get("board"), articles, origin)
        return cls(clocks, _ladder(raw.get("ladder"), origin), articles, board, origin)

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


def _articles(raw: Any, origin: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v.strip() for v in raw.values()):
        raise PolicyError(f'{origin}: [articles] maps each article to its words: "art. N" = "..."')
    return {str(k).strip(): str(v).strip() for k, v in raw.items()}


def _cited(where: str, raw: Any, articles: dict[str, str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(a, str) for a in raw):
        raise PolicyError(f'{where}: articles must be a list like ["LPPDDHP art. 27"]')
    missing = [a for a in raw if a not in articles]
    if missing:
        raise PolicyError(
            f"{where}: cites {', '.join(missing)}, which the [articles] table does not hold "
            "(add the article with the words it says, or give the clock a policy reason)"
        )
    return tuple(raw)


def _uncited(where: str, text: str, articles: dict[str, str]) -> None:
    """Free text may not smuggle in an article the table does not hold."""
    known = " ".join(articles)
    for match in _ARTICLE.finditer(text):
        number = re.sub(r"\s+", " ", match.group(0))
        if number.split()[-1] not in re.findall(r"\d+", known):
            raise PolicyError(
                f"{where}: names {number!r}, which the [articles] table does not hold"
            )


def _clock(clock: Clock, raw: Any, articles: dict[str, str], origin: str) -> ClockRule:
    where = f"{origin}: [clocks.{clock.value}]"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} is missing")
    if "basis" in raw:
        raise PolicyError(
            f'{where}: "basis" was replaced: cite articles = ["..."] from the [articles] table, '
            'or give policy = "the reason for this length"'
        )
    extra = set(raw) - {"urgent", "ordinary", "articles", "policy", "description", "binds"}
    if extra:
        raise PolicyError(f"{where}: unknown key(s): {', '.join(sorted(extra))}")
    cited: tuple[str, ...] = ()
    reason = ""
    if "articles" in raw and "policy" in raw:
        raise PolicyError(f"{where}: give either articles or a policy reason, not both")
    if "articles" in raw:
        cited = _cited(where, raw["articles"], articles)
    else:
        reason = raw.get("policy", "")
        if not isinstance(reason, str) or not reason.strip():
            raise PolicyError(
                f"{where}: every clock needs its legal basis: articles = [...] from the "
                '[articles] table, or policy = "the reason for this length"'
            )
        reason = reason.strip()
        _uncited(where, reason, articles)
    try:
        binds = Binds(raw.get("binds", ""))
    except ValueError:
        raise PolicyError(f'{where}: binds must be "federal" or "agencies"') from None
    lengths: dict[str, timedelta | None] = {}
    for urgency in ("urgent", "ordinary"):
        value = raw.get(urgency)
        if value is None:
            lengths[urgency] = None
            continue
        if not isinstance(value, str):
            raise PolicyError(f"{where}: {urgency} must be a duration string like '24h'")
        try:
            lengths[urgency] = parse_duration(value)
        except ValueError as exc:
            raise PolicyError(f"{where}: {urgency}: {exc}") from exc
    if lengths["urgent"] is None and lengths["ordinary"] is None:
        raise PolicyError(f"{where}: give the urgent or the ordinary length (or both)")
    description = str(raw.get("description", ""))
    _uncited(where, description, articles)
    return ClockRule(
        clock,
        lengths["urgent"],
        lengths["ordinary"],
        binds,
        cited,
        reason,
        description,
    )


def _board(raw: Any, articles: dict[str, str], origin: str) -> BoardRule:
    where = f"{origin}: [board]"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} is missing (material_before, articles)")
    extra = set(raw) - {"material_before", "articles"}
    if extra:
        raise PolicyError(f"{where}: unknown key(s): {', '.join(sorted(extra))}")
    value = raw.get("material_before")
    try:
        before = parse_duration(value if isinstance(value, str) else "")
    except ValueError as exc:
        raise PolicyError(f"{where}: material_before: {exc}") from exc
    return BoardRule(before, _cited(where, raw.get("articles"), articles))


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
