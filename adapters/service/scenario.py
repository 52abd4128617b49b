"""Scenario files: which agencies take part and how they behave, and a script of what the
Mechanism sends. ``mechbus demo --scenario FILE`` plays one; the default ships in
adapters/service/scenarios/default.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bus.domain.board import Consent, uninvitable
from bus.domain.errors import ConfigurationError
from schemas.envelope import Envelope
from schemas.federal import (
    BoardDecisionTaken,
    IncorporationReceived,
    RiskStudyDelivered,
    UrgentMeasuresIssued,
)
from schemas.iachr import IachrMeasureBody
from schemas.registry import AgencyKind, active_registry
from schemas.requests import (
    BoardSummons,
    ImplementationMeetingNotice,
    InformationRequest,
    InvestigationRequest,
    ProtectionMeasureRequest,
    RelocationRequest,
)

KINDS: dict[str, type[Envelope]] = {
    "protection_measure": ProtectionMeasureRequest,
    "investigation": InvestigationRequest,
    "information": InformationRequest,
    "board_summons": BoardSummons,
    "relocation": RelocationRequest,
    "implementation_meeting": ImplementationMeetingNotice,
}
MATCHING = "matching"
# What the Mechanism's own units and Board report on a case, and who reports it.
FEDERAL_STEPS: dict[str, tuple[type[Envelope], str]] = {
    "incorporation": (IncorporationReceived, "fed.reception"),
    "measures_issued": (UrgentMeasuresIssued, "fed.mechanism"),
    "risk_study": (RiskStudyDelivered, "fed.risk"),
    "board_decision": (BoardDecisionTaken, "fed.board"),
}


class ScenarioError(ConfigurationError, ValueError):
    """The scenario file is unreadable or names something that does not exist."""


@dataclass(frozen=True)
class AgencySpec:
    id: str
    profile: str = "prompt"  # checked by the stub process itself (python -m agency_stubs)
    capacity: dict[str, Any] | None = None


@dataclass(frozen=True)
class BoardSessionSpec:
    id: str
    in_days: float
    venue: str


@dataclass(frozen=True)
class ConsentSpec:
    """The beneficiary's consent to invite authorities to the Board, recorded before the
    requests are sent."""

    case: str
    given: bool = True
    agencies: tuple[str, ...] = ()  # empty: every state authority
    recorded_by: str = "Unidad de Recepción de Casos y Reacción Rápida"


@dataclass(frozen=True)
class RequestSpec:
    label: str
    kind: str
    to: tuple[str, ...] | str  # agency ids, or "matching" (shelters that can take it)
    case: str
    urgent: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    personal: tuple[dict[str, Any], ...] = ()  # told to a confirmed shelter only


@dataclass(frozen=True)
class FederalSpec:
    """A step of the Mechanism's own (``FEDERAL_STEPS``), played before the requests."""

    step: str
    case: str
    urgent: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # received_at/decided_at: now if absent


@dataclass(frozen=True)
class AggressorSpec:
    """An agency the Mechanism names presumed aggressor on a case before the requests go."""

    case: str
    agency: str
    role: str  # the official role that decided it


@dataclass(frozen=True)
class Expectations:
    acknowledged: tuple[str, ...] = ()
    declined: tuple[str, ...] = ()
    escalated: tuple[str, ...] = ()  # climbed the whole ladder
    fulfilled: tuple[str, ...] = ()  # fulfilled every commitment it made
    partially_fulfilled: tuple[str, ...] = ()
    beyond_legal_limit: tuple[str, ...] = ()  # committed later than the law allows: flagged
    placed: dict[str, str] = field(default_factory=dict)  # relocation label -> shelter
    # The Mechanism's own clocks, as "<case>:<clock>": met on time; missed (late or overdue)
    federal_on_time: tuple[str, ...] = ()
    federal_missed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int
    compression: float
    agencies: tuple[AgencySpec, ...]
    board_sessions: tuple[BoardSessionSpec, ...]
    consents: tuple[ConsentSpec, ...]
    requests: tuple[RequestSpec, ...]
    expect: Expectations
    # IACHR precautionary measures the Mechanism registers first (mech.tracking.iachr_measure)
    iachr_measures: tuple[dict[str, Any], ...] = ()
    federal: tuple[FederalSpec, ...] = ()
    presumed_aggressors: tuple[AggressorSpec, ...] = ()

    @classmethod
    def default(cls) -> Scenario:
        shipped = resources.files("adapters.service").joinpath("scenarios/default.toml")
        text = shipped.read_text("utf-8")
        return cls.parse(text, origin="adapters/service/scenarios/default.toml")

    @classmethod
    def load(cls, path: Path) -> Scenario:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario {path}: {exc}") from exc
        return cls.parse(text, origin=str(path))

    @classmethod
    def parse(cls, text: str, *, origin: str) -> Scenario:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{origin}: not valid TOML: {exc}") from exc
        try:
            scenario = cls(
                name=str(raw["name"]),
                description=str(raw.get("description", "")),
                seed=int(raw.get("seed", 0)),
                compression=float(raw.get("compression", 3600.0)),
                agencies=tuple(AgencySpec(**a) for a in raw.get("agency", [])),
                board_sessions=tuple(BoardSessionSpec(**b) for b in raw.get("board_session", [])),
                consents=tuple(_consent(c) for c in raw.get("board_consent", [])),
                requests=tuple(_request(r) for r in raw.get("request", [])),
                expect=_expect(raw.get("expect", {})),
                iachr_measures=tuple(dict(m) for m in raw.get("iachr_measure", [])),
                federal=tuple(FederalSpec(**f) for f in raw.get("federal", [])),
                presumed_aggressors=tuple(
                    AggressorSpec(**a) for a in raw.get("presumed_aggressor", [])
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ScenarioError(f"{origin}: {type(exc).__name__}: {exc}") from exc
        scenario._check(origin)
        return scenario

    def _check(self, origin: str) -> None:
        registry = active_registry()
        labels = [r.label for r in self.requests]
        if len(set(labels)) != len(labels):
            raise ScenarioError(f"{origin}: request labels must be unique")
        for agency in self.agencies:
            if agency.id not in registry:
                raise ScenarioError(f"{origin}: unknown agency {agency.id!r}")
            is_shelter = registry[agency.id].kind is AgencyKind.SHELTER
            if is_shelter and agency.capacity is None:
                raise ScenarioError(f"{origin}: shelter {agency.id} needs a capacity table")
        sessions = {s.id for s in self.board_sessions}
        for request in self.requests:
            if request.kind not in KINDS:
                raise ScenarioError(f"{origin}: {request.label}: unknown kind {request.kind!r}")
            if request.to == MATCHING and request.kind != "relocation":
                raise ScenarioError(f"{origin}: {request.label}: only relocations go to matching")
            if isinstance(request.to, tuple):
                unknown = [a for a in request.to if a not in registry]
                if unknown:
                    raise ScenarioError(f"{origin}: {request.label}: unknown agency {unknown[0]}")
            session = request.data.get("session_id")
            if request.kind == "board_summons" and session not in sessions:
                raise ScenarioError(f"{origin}: {request.label}: no board session {session!r}")
            if request.kind == "board_summons":
                self._check_consent(origin, request)
        for measure in self.iachr_measures:
            try:
                IachrMeasureBody.model_validate(measure)
            except ValidationError as exc:
                raise ScenarioError(f"{origin}: iachr_measure: {exc}") from exc
        for step in self.federal:
            if step.step not in FEDERAL_STEPS:
                known = ", ".join(FEDERAL_STEPS)
                raise ScenarioError(f"{origin}: federal step {step.step!r}: one of {known}")

        self._check_aggressors(origin)
        missing = set(self.expect.placed) - set(labels)
        if missing:
            raise ScenarioError(f"{origin}: expect.placed names unknown request {missing.pop()}")

    def _check_consent(self, origin: str, request: RequestSpec) -> None:
        """A summons of a state authority needs the beneficiary's consent (the hub refuses it
        otherwise): say so when the file is read, not when the demo runs."""
        latest = {c.case: Consent(c.case, c.given, frozenset(c.agencies)) for c in self.consents}
        to = request.to if isinstance(request.to, tuple) else ()
        missing = uninvitable(request.case, to, latest.get(request.case), active_registry())
        if missing:
            raise ScenarioError(
                f"{origin}: {request.label}: no [[board_consent]] for case {request.case} "
                f"covers {', '.join(missing)}"
            )

    def _check_aggressors(self, origin: str) -> None:
        registry = active_registry()
        for named in self.presumed_aggressors:
            if named.agency not in registry or registry[named.agency].is_federal:
                raise ScenarioError(
                    f"{origin}: presumed aggressor {named.agency!r} is not a state agency"
                )
            for request in self.requests:
                if request.case == named.case and named.agency in request.to:
                    raise ScenarioError(
                        f"{origin}: {request.label}: {named.agency} is named presumed aggressor "
                        f"on case {named.case} and may receive nothing of it"
                    )

    def agency(self, agency_id: str) -> AgencySpec | None:
        return next((a for a in self.agencies if a.id == agency_id), None)


def _request(raw: dict[str, Any]) -> RequestSpec:
    to = raw["to"]
    return RequestSpec(
        label=str(raw["label"]),
        kind=str(raw["kind"]),
        to=to if to == MATCHING else tuple(to),
        case=str(raw["case"]),
        urgent=bool(raw.get("urgent", False)),
        data=dict(raw.get("data", {})),
        personal=tuple(raw.get("personal", ())),
    )


def _consent(raw: dict[str, Any]) -> ConsentSpec:
    return ConsentSpec(
        case=str(raw["case"]),
        given=bool(raw.get("given", True)),
        agencies=tuple(raw.get("agencies", ())),
        **({"recorded_by": str(raw["recorded_by"])} if "recorded_by" in raw else {}),
    )


def _expect(raw: dict[str, Any]) -> Expectations:
    return Expectations(
        acknowledged=tuple(raw.get("acknowledged", ())),
        declined=tuple(raw.get("declined", ())),
        escalated=tuple(raw.get("escalated", ())),
        fulfilled=tuple(raw.get("fulfilled", ())),
        partially_fulfilled=tuple(raw.get("partially_fulfilled", ())),
        beyond_legal_limit=tuple(raw.get("beyond_legal_limit", ())),
        placed=dict(raw.get("placed", {})),
        federal_on_time=tuple(raw.get("federal_on_time", ())),
        federal_missed=tuple(raw.get("federal_missed", ())),
    )
