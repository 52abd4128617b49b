"""What the hub releases once it has recorded an accepted placement, and when it cannot take a
confirmation up. Pure.

The Mechanism hands its placement confirmation, with the people's details, to the hub alone
(``subjects.RELEASED_BY_HUB``). Only after the ledger holds the placement does the hub publish
the chosen shelter's copy and release every other shelter's open offer. Both are derived from
the confirmation and the request's state with fixed ids, so a hub that crashed between the
commit and the publishes derives the very same messages when the confirmation is redelivered,
and the stream's duplicate window absorbs any it had published already.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bus.domain import aggressors, intake, redaction, subjects
from bus.domain.lifecycle import RecipientStatus, RequestState
from bus.domain.ports import Delivery, LedgerUnit
from schemas.capacity import OfferReleased, OfferReleasedBody, PlacementConfirmed
from schemas.registry import AgencyRegistry
from schemas.tracking import RejectionReason

RELEASE_REASON = "La reubicación se confirmó con otra casa refugio."


@dataclass(frozen=True)
class Release:
    """One copy to publish exactly as given: its subject, copy key and bytes (what the hub
    lets out after a commit, and each recipient's copy of a federal message)."""

    subject: str
    # names the copy: its Nats-Msg-Id is derived from it and the bytes (bus.domain.msgids), so
    # publishing it again is a duplicate; None on an outbox (no header)
    copy_key: str | None
    payload: bytes


def releases(
    confirmation: PlacementConfirmed,
    state: RequestState,
    registry: AgencyRegistry,
    flagged: frozenset[str] = frozenset(),
) -> tuple[Release, ...]:
    """The shelter's copy of ``confirmation`` and a release for every other offer still open
    in ``state`` (the request as recorded with the placement). Nothing goes to a shelter in
    ``flagged`` (named presumed aggressor on the case; the hub refuses a confirmation to one)."""
    copies = [
        Release(subject, copy_key, _copy_for(confirmation, subject, registry))
        for subject, copy_key in subjects.released_routes(confirmation, registry)
        if aggressors.may_receive(_addressee(subject), flagged)
    ]
    others = [
        offer_released(confirmation, r.agency)
        for r in state.recipients
        if r.status is RecipientStatus.OFFERED
        and r.agency != confirmation.data.shelter
        and aggressors.may_receive(r.agency, flagged)
    ]
    freed = [
        Release(subject, copy_key, message.to_json())
        for message in others
        for subject, copy_key in subjects.published_routes(message, registry)
    ]
    return (*copies, *freed)


def offer_released(confirmation: PlacementConfirmed, shelter: str) -> OfferReleased:
    """The release of ``shelter``'s offer because of ``confirmation``: same bytes every time."""
    digest = hashlib.sha256(f"{confirmation.id}\0{shelter}".encode()).hexdigest()
    return OfferReleased(
        id=f"rel-{digest[:32]}",
        source=confirmation.source,
        time=confirmation.time,
        subject=confirmation.subject,
        recipients=(shelter,),
        correlation_id=confirmation.thread,
        causation_id=confirmation.id,
        data=OfferReleasedBody(reason=RELEASE_REASON),
    )


def _addressee(subject: str) -> str:
    route = subjects.parse(subject)
    assert route is not None
    return route.agency


def _copy_for(confirmation: PlacementConfirmed, subject: str, registry: AgencyRegistry) -> bytes:
    route = subjects.parse(subject)
    assert route is not None
    # Need-to-know stays decided in one place: the confirmed shelter may see the details.
    return redaction.for_recipient(confirmation, route.agency, registry).to_json()


def unplaceable(
    unit: LedgerUnit, delivery: Delivery, message: PlacementConfirmed, registry: AgencyRegistry
) -> intake.Refusal | None:
    """Why the hub cannot take this confirmation up before the lifecycle even looks at it."""
    [(handed_over, _)] = subjects.published_routes(message, registry)
    if delivery.subject != handed_over:
        # Only the hub publishes on a shelter's inbox, and only copies of a confirmation it
        # recorded (recording takes those as copies); one first seen there was never accepted.
        detail = f"{message.type} goes to the hub on {handed_over}"
        return intake.Refusal.of(message, RejectionReason.WRONG_SUBJECT, detail)
    shortfall = no_room(unit, message)
    return intake.Refusal.of(message, RejectionReason.NO_CAPACITY, shortfall) if shortfall else None


def no_room(unit: LedgerUnit, message: PlacementConfirmed) -> str | None:
    """Checked in stream order inside the ledger transaction: of two confirmations racing for
    a shelter's last space, the first recorded takes it and the second is refused here."""
    shelter, people = message.data.shelter, message.data.people
    current = unit.capacity(shelter)
    if current is None:
        return f"{shelter} has published no capacity"
    if current.free_spaces < people:
        return f"{shelter} has {current.free_spaces} free spaces; this placement needs {people}"
    return None
