"""What the hub checks and records about a case beside its requests: the agencies named
presumed aggressor on it, the beneficiary's consent to invite authorities to the Board, and
the Mechanism's own obligations (bus.domain.federal_clocks)."""

from __future__ import annotations

from datetime import datetime

from bus.domain import aggressors, intake
from bus.domain.board import no_consent_detail, uninvitable
from bus.domain.federal_clocks import changes, meeting_request
from bus.domain.policy import Policy
from bus.domain.ports import ConsentRecord, LedgerUnit
from schemas.envelope import Envelope
from schemas.registry import AgencyRegistry
from schemas.requests import BoardSummons
from schemas.tracking import BoardConsent, PresumedAggressor, RejectionReason


def record_obligations(unit: LedgerUnit, message: Envelope, now: datetime, policy: Policy) -> None:
    """Start or meet the Mechanism's own obligations on the message's case; never refuses."""
    assert message.subject is not None
    existing = unit.federal_obligations(message.subject)
    if meeting_request(message):
        if not existing:  # most requests are on cases with no federal clock running
            return
        requests = []  # a request meets what has started; a start looks back for it
    else:
        requests = unit.case_requests(message.subject)
    for obligation in changes(message, now, policy, existing, requests):
        unit.save_federal_obligation(obligation)


def case_of(unit: LedgerUnit, message: Envelope) -> str | None:
    """The case a message is about: its own subject, else its request's (a follow-up)."""
    if message.subject is not None:
        return message.subject
    state = unit.load_request(message.thread) if message.correlation_id else None
    return state.case_ref if state is not None else None


def flagged(unit: LedgerUnit, message: Envelope) -> frozenset[str]:
    case = case_of(unit, message)
    return unit.presumed_aggressors(case) if case is not None else frozenset()


def to_presumed_aggressor(
    unit: LedgerUnit, message: Envelope, registry: AgencyRegistry
) -> intake.Refusal | None:
    """A federal message addressed to an agency named presumed aggressor on its case. The
    Mechanism's sending path refuses it before publishing; one that reaches the hub anyway
    (a raw publish) is refused here, every copy of it: the flagged agency's own copy was
    already published by its sender, and the hub cannot take it back."""
    if not aggressors.checked(message, registry):
        return None
    case = case_of(unit, message)
    if case is None:
        return None
    refused = aggressors.barred(message.recipients, unit.presumed_aggressors(case))
    if not refused:
        return None
    detail = aggressors.refusal(case, refused, registry)
    return intake.Refusal.of(message, RejectionReason.PRESUMED_AGGRESSOR, detail)


def aggressor_refused(
    unit: LedgerUnit, message: PresumedAggressor, registry: AgencyRegistry
) -> intake.Refusal | None:
    if message.data.agency not in registry:
        detail = f"{message.data.agency} is not in the agency registry"
        return intake.Refusal.of(message, RejectionReason.UNKNOWN_AGENCY, detail)
    assert message.subject is not None
    flagged = unit.presumed_aggressors(message.subject)
    why = aggressors.change_refused(message, flagged, registry)
    return intake.Refusal.of(message, RejectionReason.ILLEGAL_TRANSITION, why) if why else None


def unconsented(
    unit: LedgerUnit, message: BoardSummons, registry: AgencyRegistry
) -> intake.Refusal | None:
    """A state authority is invited to the Board only with the beneficiary's consent, as
    recorded before the summons in stream order (LPPDDHP art. 8)."""
    case = message.subject
    consent = unit.consent(case) if case is not None else None
    missing = uninvitable(case, message.recipients, consent, registry)
    if not missing:
        return None
    return intake.Refusal.of(message, RejectionReason.NO_CONSENT, no_consent_detail(case, missing))


def consent_record(message: BoardConsent, now: datetime) -> ConsentRecord:
    assert message.subject is not None  # the schema requires the case number
    body = message.data
    return ConsentRecord(
        case_ref=message.subject,
        given=body.given,
        agencies=body.agencies,
        recorded_by=body.recorded_by,
        message_id=message.id,
        recorded_at=now,
    )
