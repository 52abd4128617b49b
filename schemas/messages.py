"""The v1 message union: one discriminated union on ``type``, parsing, and JSON Schema export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from schemas.capacity import (
    CapacityUpdate,
    OfferReleased,
    PlacementArrived,
    PlacementConfirmed,
    PlacementEnded,
    PlacementOffer,
)
from schemas.envelope import Envelope, Family
from schemas.federal import (
    BoardDecisionTaken,
    IncorporationReceived,
    RiskStudyDelivered,
    UrgentMeasuresIssued,
)
from schemas.iachr import RECORDED, IachrMeasureRegistered
from schemas.requests import (
    BoardSummons,
    ImplementationMeetingNotice,
    InformationRequest,
    InvestigationRequest,
    ProtectionMeasureRequest,
    RelocationRequest,
    RequestRecall,
    RequestUpdate,
)
from schemas.responses import (
    Acceptance,
    Acknowledgement,
    CommitmentFulfilled,
    CommitmentMade,
    CommitmentPartiallyFulfilled,
    CommitmentWithdrawn,
    Decline,
    DeliveryReceipt,
    ProgressReport,
    ProvisionalAnswer,
)
from schemas.tracking import (
    AcknowledgementOverdue,
    BoardAttendance,
    BoardConsent,
    BoardSessionScheduled,
    Checkpoint,
    CommitmentOverdue,
    Escalated,
    PresumedAggressor,
    Rejected,
    Reminder,
)

Message = Annotated[
    ProtectionMeasureRequest
    | InvestigationRequest
    | InformationRequest
    | BoardSummons
    | RelocationRequest
    | ImplementationMeetingNotice
    | RequestRecall
    | RequestUpdate
    | DeliveryReceipt
    | Acknowledgement
    | Acceptance
    | Decline
    | ProvisionalAnswer
    | CommitmentMade
    | ProgressReport
    | CommitmentFulfilled
    | CommitmentPartiallyFulfilled
    | CommitmentWithdrawn
    | CapacityUpdate
    | PlacementOffer
    | PlacementConfirmed
    | OfferReleased
    | PlacementArrived
    | PlacementEnded
    | Rejected
    | AcknowledgementOverdue
    | CommitmentOverdue
    | Escalated
    | Reminder
    | BoardSessionScheduled
    | BoardAttendance
    | IachrMeasureRegistered
    | BoardConsent
    | Checkpoint
    | IncorporationReceived
    | UrgentMeasuresIssued
    | RiskStudyDelivered
    | BoardDecisionTaken
    | PresumedAggressor,
    Field(discriminator="type"),
]
"""Any v1 message; pydantic picks the model from ``type``."""

MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


def _message_classes() -> dict[str, type[Envelope]]:
    classes: dict[str, type[Envelope]] = {}
    for model in Envelope.__subclasses__():
        stack = [model]
        while stack:
            cls = stack.pop()
            stack.extend(cls.__subclasses__())
            literal = cls.model_fields["type"].default
            if isinstance(literal, str) and literal.startswith("mech."):
                classes[literal] = cls
    return classes


MESSAGE_TYPES: dict[str, type[Envelope]] = _message_classes()
"""Every message class by its ``type`` string."""


def parse_message(raw: bytes | str, *, recorded: bool = False) -> Message:
    """Validate one JSON-encoded message; raises ``pydantic.ValidationError``. ``recorded``:
    read back from the ledger, where what was valid when it was recorded stays readable."""
    return MESSAGE_ADAPTER.validate_json(raw, context={RECORDED: True} if recorded else None)


def family_of(type_name: str) -> Family | None:
    cls = MESSAGE_TYPES.get(type_name)
    return cls.family if cls else None


def json_schemas() -> dict[str, dict[str, Any]]:
    """One JSON Schema per message type, plus ``message`` for the whole union."""
    schemas = {
        name: cls.model_json_schema(by_alias=True) for name, cls in sorted(MESSAGE_TYPES.items())
    }
    schemas["message"] = MESSAGE_ADAPTER.json_schema(by_alias=True)
    return schemas


def export_json_schemas(directory: Path) -> list[Path]:
    """Write ``<type>.schema.json`` for every message type; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        schema.setdefault("$schema", "https://json-schema.org/draft/2020-12/schema")
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
