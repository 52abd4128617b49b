"""The Mechanism's own obligations (tracking family): what its units and its Board say they did
on a case, so that the hub can hold them to the law's clocks (LPPDDHP arts. 26, 27 and 29).

Each names the case (``subject``) and carries no personal data: the person at risk is known
by the case number alone. None has recipients; each travels on its sender's outbox.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from schemas.envelope import (
    AgencyId,
    Body,
    Envelope,
    Family,
    SessionId,
    StateCode,
    UtcDatetime,
)
from schemas.measures import MeasureKind
from schemas.registry import AgencyKind

UNITS = frozenset({AgencyKind.FEDERAL})
BOARD = frozenset({AgencyKind.BOARD})
DecisionId = SessionId  # the Board's own numbering, e.g. JG-2026-04-07


class IncorporationBody(Body):
    """A request for incorporation to the Mechanism, received outside the bus (phone, mail,
    office): ``received_at`` is when the Mechanism received it, which starts its clocks."""

    state: StateCode  # where the person at risk is (the state, never an address)
    received_at: UtcDatetime


class MeasuresIssuedBody(Body):
    measures: tuple[MeasureKind, ...] = Field(min_length=1, max_length=len(MeasureKind))


class RiskStudyBody(Body):
    study_id: SessionId  # the Risk Evaluation Unit's own reference for the study


class BoardDecisionBody(Body):
    decision_id: DecisionId
    session_id: SessionId
    decided_at: UtcDatetime
    agencies: tuple[AgencyId, ...] = Field(min_length=1, max_length=50)  # who implements it


class _OnCase(Envelope):
    family: ClassVar[Family] = Family.TRACKING
    senders: ClassVar[frozenset[AgencyKind]] = UNITS

    @model_validator(mode="after")
    def _names_case(self) -> _OnCase:
        if self.subject is None:
            raise ValueError(f"{self.type} needs subject: the case number")
        if self.recipients:
            raise ValueError(f"{self.type} has no recipients: it is for the federal record")
        return self


class IncorporationReceived(_OnCase):
    """Starts the risk study's clock; in the extraordinary procedure (``urgency`` urgent) also
    the 3 hours to issue urgent measures (art. 26 fr. I and III; ordinary: art. 27)."""

    type: Literal["mech.tracking.incorporation_received.v1"] = (
        "mech.tracking.incorporation_received.v1"
    )
    data: IncorporationBody


class UrgentMeasuresIssued(_OnCase):
    """The Executive Coordination issued the urgent measures (meets art. 26 fr. I)."""

    type: Literal["mech.tracking.urgent_measures_issued.v1"] = (
        "mech.tracking.urgent_measures_issued.v1"
    )
    data: MeasuresIssuedBody


class RiskStudyDelivered(_OnCase):
    """The Risk Evaluation Unit delivered the risk study (meets art. 26 fr. III or art. 27)."""

    type: Literal["mech.tracking.risk_study_delivered.v1"] = "mech.tracking.risk_study_delivered.v1"
    data: RiskStudyBody


class BoardDecisionTaken(_OnCase):
    """The Governing Board decided on a case: the Executive Coordination has 72 hours to
    communicate it to the agencies that implement it (art. 29 fr. I)."""

    senders: ClassVar[frozenset[AgencyKind]] = BOARD
    type: Literal["mech.tracking.board_decision_taken.v1"] = "mech.tracking.board_decision_taken.v1"
    data: BoardDecisionBody


FEDERAL_OBLIGATION_MESSAGES = (
    IncorporationReceived,
    UrgentMeasuresIssued,
    RiskStudyDelivered,
    BoardDecisionTaken,
)
