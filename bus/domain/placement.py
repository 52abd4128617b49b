"""What the hub releases once it has recorded an accepted placement. Pure.

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

from bus.domain import aggressors, redaction, subjects
from bus.domain.lifecycle import RecipientStatus, RequestState
from schemas.capacity import OfferReleased, OfferReleasedBody, PlacementConfirmed
from schemas.registry import AgencyRegistry

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
