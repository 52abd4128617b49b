"""Small factories for valid v1 messages, so each test states only what it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bus.domain.rules import Rules
from schemas.registry import AgencyRegistry
from schemas.requests import InvestigationRequest, ProtectionMeasureRequest, RequestRecall
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

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
# The shipped registry, passed to the domain as the hub passes its own; no deadlines.
REGISTRY = AgencyRegistry.load()
RULES = Rules(REGISTRY)


def patrol_request(
    to: str = "gro.government", *, at: datetime = T0, **overrides: Any
) -> ProtectionMeasureRequest:
    fields: dict[str, Any] = {
        "source": "fed.mechanism",
        "time": at,
        "subject": "MPDDHP-2026-0412",
        "recipients": (to,),
        "urgency": "urgent",
        "data": {
            "measures": ["perimeter_patrol"],
            "beneficiary_role": "journalist",
            "state": "GRO",
            "municipality": "Chilpancingo de los Bravo",
            "instructions": "Rondines perimetrales cada 4 horas durante 30 días.",
        },
    }
    fields.update(overrides)
    return ProtectionMeasureRequest(**fields)


def investigation_request(
    to: str = "gro.prosecutor", *, at: datetime = T0, **overrides: Any
) -> InvestigationRequest:
    fields: dict[str, Any] = {
        "source": "fed.mechanism",
        "time": at,
        "subject": "MPDDHP-2026-0412",
        "recipients": (to,),
        "data": {
            "aggression": "amenazas de muerte",
            "facts_summary": "Amenazas recibidas por mensajería tras una publicación.",
            "steps_requested": ["Iniciar carpeta de investigación", "Solicitar registros"],
        },
    }
    fields.update(overrides)
    return InvestigationRequest(**fields)


def _answer(cls: Any, request_id: str, by: str, data: dict[str, Any], at: datetime) -> Any:
    return cls(
        source=by,
        time=at,
        correlation_id=request_id,
        causation_id=request_id,
        data=data,
    )


def receipt(request_id: str, by: str = "gro.government", at: datetime = T0) -> DeliveryReceipt:
    return _answer(DeliveryReceipt, request_id, by, {"received_at": at}, at)  # type: ignore[no-any-return]


def acknowledgement(
    request_id: str, by: str = "gro.government", at: datetime = T0
) -> Acknowledgement:
    data = {"official_role": "Subsecretaría de Derechos Humanos"}
    return _answer(Acknowledgement, request_id, by, data, at)  # type: ignore[no-any-return]


def acceptance(request_id: str, by: str = "gro.government", at: datetime = T0) -> Acceptance:
    return _answer(Acceptance, request_id, by, {}, at)  # type: ignore[no-any-return]


def decline(request_id: str, by: str = "gro.government", at: datetime = T0) -> Decline:
    data = {"reason_code": "not_competent", "explanation": "Corresponde a la autoridad municipal."}
    return _answer(Decline, request_id, by, data, at)  # type: ignore[no-any-return]


def provisional(request_id: str, by: str = "gro.government", at: datetime = T0) -> Any:
    return _answer(ProvisionalAnswer, request_id, by, {"reason": "Falta validar patrullas."}, at)


def commitment(
    request_id: str,
    commitment_id: str = "C1",
    by: str = "gro.government",
    due: datetime | None = None,
    at: datetime = T0,
) -> CommitmentMade:
    data = {
        "commitment_id": commitment_id,
        "action": "Rondines perimetrales",
        "due": due or at + timedelta(days=3),
    }
    return _answer(CommitmentMade, request_id, by, data, at)  # type: ignore[no-any-return]


def progress(request_id: str, commitment_id: str = "C1", by: str = "gro.government") -> Any:
    data = {"commitment_id": commitment_id, "summary": "Primer rondín realizado."}
    return _answer(ProgressReport, request_id, by, data, T0)


def fulfilled(request_id: str, commitment_id: str = "C1", by: str = "gro.government") -> Any:
    data = {"commitment_id": commitment_id, "evidence": [{"reference": "OF-SSP-2026-118"}]}
    return _answer(CommitmentFulfilled, request_id, by, data, T0)


def partly_fulfilled(request_id: str, commitment_id: str = "C1", by: str = "gro.government") -> Any:
    data = {
        "commitment_id": commitment_id,
        "evidence": [{"reference": "OF-SSP-2026-119"}],
        "shortfall": "Dos de cuatro rondines diarios.",
    }
    return _answer(CommitmentPartiallyFulfilled, request_id, by, data, T0)


def withdrawn(request_id: str, commitment_id: str = "C1", by: str = "gro.government") -> Any:
    data = {"commitment_id": commitment_id, "reason": "Sin patrullas disponibles."}
    return _answer(CommitmentWithdrawn, request_id, by, data, T0)


def recall(request_id: str, to: str = "gro.government", at: datetime = T0) -> RequestRecall:
    return RequestRecall(
        source="fed.mechanism",
        time=at,
        recipients=(to,),
        correlation_id=request_id,
        data={"reason": "La persona beneficiaria fue reubicada."},
    )


def relocation_request(
    to: tuple[str, ...] = ("shelter.casa-refugio-cdmx", "shelter.albergue-oaxaca"),
    *,
    people: int = 2,
    at: datetime = T0,
    **overrides: Any,
) -> Any:
    from schemas.requests import RelocationRequest

    fields: dict[str, Any] = {
        "source": "fed.mechanism",
        "time": at,
        "subject": "MPDDHP-2026-0415",
        "recipients": to,
        "urgency": "urgent",
        "confidentiality": "personal",
        "data": {
            "people": people,
            "adults": people,
            "children": 0,
            "needs": ["atención psicológica"],
            "origin_state": "GRO",
            "earliest": at.date(),
            "expected_days": 90,
            "personal": [
                {"full_name": f"Persona Defensora {i}", "address": "Calle Falsa 123, Iguala"}
                for i in range(people)
            ],
        },
    }
    fields.update(overrides)
    return RelocationRequest(**fields)


SHELTER_CAPACITY: dict[str, Any] = {
    "total_spaces": 6,
    "spaces_now": 4,
    "spaces_24h": 4,
    "spaces_72h": 5,
    "region": "centro",
    "max_stay_days": 180,
    "security_level": "restricted_access",
    "services": ["atención psicológica", "asesoría jurídica"],
}


def board_consent(
    case: str = "MPDDHP-2026-0412",
    *,
    given: bool = True,
    agencies: tuple[str, ...] = (),
    at: datetime = T0,
) -> Any:
    """The beneficiary's consent to invite authorities to the Board, recorded by the Mechanism."""
    from schemas.tracking import BoardConsent

    return BoardConsent(
        source="fed.mechanism",
        time=at,
        subject=case,
        data={"given": given, "agencies": agencies, "recorded_by": "Unidad de Recepción de Casos"},
    )


def board_summons(
    to: str = "gro.commission", *, case: str = "MPDDHP-2026-0412", at: datetime = T0
) -> Any:
    """An invitation of ``to`` to session JG-2026-12 about ``case``."""
    from schemas.requests import BoardSummons

    return BoardSummons(
        source="fed.mechanism",
        time=at,
        subject=case,
        recipients=(to,),
        data={
            "session_id": "JG-2026-12",
            "session_at": at + timedelta(days=10),
            "venue": "Secretaría de Gobernación, CDMX",
            "agenda_item": "Seguimiento de las medidas del caso",
            "authority_summoned": "Presidencia de la Comisión",
        },
    )
