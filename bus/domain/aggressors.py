"""Presumed aggressors: an agency named presumed aggressor on a case receives nothing of it.

Pure: every decision is a function of the agencies flagged on the case (``flagged``), which
the ledger adapter looks up and passes in. Used by the Mechanism's sending path (refuse before
publishing), the hub (refuse what a raw publisher sent anyway), the ladder (send the rung to
the Mechanism instead) and the hub's releases (never to a flagged shelter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bus.domain.federal import HUB, MECHANISM
from schemas.envelope import Envelope
from schemas.registry import AgencyRegistry
from schemas.tracking import AggressorAction, PresumedAggressor


@dataclass(frozen=True)
class AggressorChange:
    """A presumed aggressor named or lifted, as the ledger keeps it: who decided it and when."""

    case_ref: str
    agency: str
    action: AggressorAction
    by: str  # the sending agency (the Mechanism)
    role: str  # the official role that decided it
    at: datetime
    message_id: str


# The Board's agenda still takes the item; the agency is not invited to the session.
NOT_INVITED_NOTE = "presunta agresora en el caso: no se invita a la autoridad"


def barred(recipients: Iterable[str], flagged: frozenset[str]) -> tuple[str, ...]:
    """The recipients named presumed aggressor on the case, in the order given."""
    return tuple(r for r in recipients if r in flagged)


def may_receive(agency: str, flagged: frozenset[str]) -> bool:
    return agency not in flagged


def checked(message: Envelope, registry: AgencyRegistry) -> bool:
    """Whether ``message`` is one whose recipients are checked: any message a federal sender
    other than the hub addresses to agencies (requests, follow-ups, reminders, placements).
    The hub's own messages are kept from flagged agencies where they are made (``redirect``)."""
    sender = registry.get(message.source)
    return (
        bool(message.recipients)
        and sender is not None
        and sender.is_federal
        and message.source != HUB
    )


def refusal(case_ref: str, refused: tuple[str, ...], registry: AgencyRegistry) -> str:
    """Why a message was refused, naming each flagged recipient by id and by name."""
    names = "; ".join(f"{a} ({_name(a, registry)})" for a in refused)
    return (
        f"case {case_ref}: {names} is named presumed aggressor on this case and may receive "
        "nothing of it; remove it from the recipients (nothing was sent to anyone)"
    )


def redirect(to_agency: str, flagged: frozenset[str]) -> str:
    """Who a hub message meant for ``to_agency`` goes to: the Mechanism instead of a flagged
    agency (a state's Secretaría General de Gobierno may be the presumed aggressor)."""
    return MECHANISM if to_agency in flagged else to_agency


def change_refused(
    message: PresumedAggressor, flagged: frozenset[str], registry: AgencyRegistry
) -> str | None:
    """Why naming or lifting cannot be recorded (a federal agency, already named, or not
    named), or None. An agency unknown to the registry is refused before (``unknown_agency``)."""
    agency, case = message.data.agency, message.subject
    if registry[agency].is_federal:
        return f"{agency} is a federal agency: only a state or local agency may be named"
    if message.data.action is AggressorAction.SET and agency in flagged:
        return f"{agency} is already named presumed aggressor on case {case}"
    if message.data.action is AggressorAction.LIFTED and agency not in flagged:
        return f"{agency} is not named presumed aggressor on case {case}: nothing to lift"
    return None


def change_of(message: PresumedAggressor, now: datetime) -> AggressorChange:
    assert message.subject is not None  # the schema requires the case
    return AggressorChange(
        case_ref=message.subject,
        agency=message.data.agency,
        action=message.data.action,
        by=message.source,
        role=message.data.official_role,
        at=now,
        message_id=message.id,
    )


def _name(agency: str, registry: AgencyRegistry) -> str:
    record = registry.get(agency)
    return record.name if record is not None else agency
