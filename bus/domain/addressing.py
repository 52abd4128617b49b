"""Who a request may be addressed to: the kind of agency its family is for, and the state of
its case.

Pure: the registry and the states the ledger records for the case are passed in. The
Mechanism's sending path refuses a request whose recipients do not fit, unless the request
carries ``data.override_reason`` (staff sent it anyway, and said why: it is recorded with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.envelope import Envelope
from schemas.registry import FEDERAL_KINDS, Agency, AgencyKind, AgencyRegistry
from schemas.requests import (
    BoardSummons,
    ImplementationMeetingNotice,
    InformationRequest,
    InvestigationRequest,
    ProtectionMeasureRequest,
    RelocationRequest,
)

STATE_AUTHORITIES = frozenset({AgencyKind.GOVERNMENT, AgencyKind.PROSECUTOR, AgencyKind.COMMISSION})

# The kinds of agency each opening request is for (None: any agency). A state government's
# police carry out protection measures; a prosecutor investigates; the Board summons, and
# implementation meetings gather, the state authorities; only a shelter houses people.
RECEIVERS: dict[type[Envelope], frozenset[AgencyKind] | None] = {
    ProtectionMeasureRequest: frozenset({AgencyKind.GOVERNMENT}),
    InvestigationRequest: frozenset({AgencyKind.PROSECUTOR}),
    InformationRequest: None,
    BoardSummons: STATE_AUTHORITIES,
    RelocationRequest: frozenset({AgencyKind.SHELTER}),
    ImplementationMeetingNotice: STATE_AUTHORITIES,
}

# Agencies no state binds: the Mechanism's own units act wherever the case is, and a shelter
# in another state is the point of a relocation.
STATELESS = FEDERAL_KINDS | {AgencyKind.SHELTER}

# The body field naming the state a request concerns, by message type: what the ledger's
# earlier requests say about the state of their case.
STATE_FIELDS = {
    "mech.request.protection_measure.v1": "state",
    "mech.request.relocation.v1": "origin_state",
}


class Mismatch(StrEnum):
    KIND = "kind"  # the wrong kind of agency for this family of request
    STATE = "state"  # an agency of another state than the case's


@dataclass(frozen=True)
class Misaddressed:
    """One recipient that does not fit, and what would: ``valid`` lists the registry's agencies
    of the right kind in the expected states (with none known, in the recipient's own state;
    empty when neither is known)."""

    recipient: Agency
    mismatch: Mismatch
    kinds: frozenset[AgencyKind] | None
    states: tuple[str, ...]
    stated: bool  # the states are the request's own (True) or the case's record (False)
    valid: tuple[Agency, ...]


def checked(message: Envelope) -> bool:
    """Whether ``message`` is a request whose recipients are judged here."""
    return type(message) in RECEIVERS


def override_reason(message: Envelope) -> str | None:
    """Why staff sent ``message`` although its addressing or its date did not fit, or None."""
    reason = getattr(message.data, "override_reason", None)
    return reason if isinstance(reason, str) else None


def stated_states(message: Envelope) -> frozenset[str]:
    """The states the request itself names as where it applies."""
    if isinstance(message, ProtectionMeasureRequest):
        return frozenset({message.data.state})
    return frozenset()


def misaddressed(
    message: Envelope, case_states: frozenset[str], registry: AgencyRegistry
) -> tuple[Misaddressed, ...]:
    """The recipients of ``message`` that do not fit, in the order given.

    The expected states are those the request names, else those the ledger records for its
    case (``case_states``); with neither, only the kind is judged. An agency unknown to the
    registry is refused by the contract before this.
    """
    if not checked(message):
        return ()
    kinds = RECEIVERS[type(message)]
    own = stated_states(message)
    states = tuple(sorted(own or case_states))
    found = []
    for agency_id in message.recipients:
        agency = registry.get(agency_id)
        if agency is None:
            continue
        if kinds is not None and agency.kind not in kinds:
            mismatch = Mismatch.KIND
        elif states and agency.kind not in STATELESS and agency.state not in states:
            mismatch = Mismatch.STATE
        else:
            continue
        # With no state known for the case, the agency given was meant for its own state.
        near = states or ((agency.state,) if agency.state else ())
        valid = valid_recipients(registry, kinds, near)
        found.append(Misaddressed(agency, mismatch, kinds, states, bool(own), valid))
    return tuple(found)


def valid_recipients(
    registry: AgencyRegistry, kinds: frozenset[AgencyKind] | None, states: tuple[str, ...]
) -> tuple[Agency, ...]:
    """The agencies a request for ``kinds`` in ``states`` may go to (any kind: the state
    authorities); none when a state-bound kind is asked for and no state is known."""
    wanted = STATE_AUTHORITIES if kinds is None else kinds
    if not states and not wanted <= STATELESS:
        return ()
    return tuple(
        a for a in registry if a.kind in wanted and (a.kind in STATELESS or a.state in states)
    )


def declared_state(message_type: str, data: dict[str, object]) -> str | None:
    """The state an earlier request (its type and body as recorded) says its case is in."""
    field = STATE_FIELDS.get(message_type)
    value = data.get(field) if field else None
    return value if isinstance(value, str) else None
