"""What the hub lets out once it records a placement (SQLite and PostgreSQL): the shelter's copy
of the confirmation and the release of the other offers, only after an accepted placement,
the same messages again after a crash, and nothing at all for a refused confirmation."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from adapters.ledger.store import SqlLedger
from adapters.paging import PAGE_ROWS
from adapters.service.actions import load_relocation
from bus.domain.recording import Outcome, Result, record_batch
from bus.runtime.agency import reply_from
from schemas.capacity import (
    CapacityBody,
    CapacityUpdate,
    PlacementConfirmed,
    PlacementOffer,
    PlacementOfferBody,
)
from schemas.tracking import RejectionReason
from tests import builders as b
from tests.ledger_reads import recipient_status
from tests.test_recording import Stream

NOW = b.T0 + timedelta(minutes=1)
CDMX, OAXACA = "shelter.casa-refugio-cdmx", "shelter.albergue-oaxaca"
HANDED_OVER = "mech.v1.from.fed.mechanism.placement_confirmed"


def offered_by_both(ledger: SqlLedger, stream: Stream, spaces: int = 4) -> Any:
    """A relocation for two people that both shelters offered to take."""
    request = b.relocation_request()
    capacity = {**b.SHELTER_CAPACITY, "spaces_now": spaces}
    batch = [stream.deliver(request)]
    for shelter in (CDMX, OAXACA):
        report = CapacityUpdate(source=shelter, time=NOW, data=CapacityBody(**capacity))
        body = PlacementOfferBody(spaces=2, available_from=NOW.date())
        batch.append(stream.deliver(report))
        batch.append(stream.deliver(reply_from(shelter, PlacementOffer, request, body, NOW)))
    outcomes = record_batch(ledger, batch, NOW)
    assert {o.result for o in outcomes} == {Result.RECORDED}
    return request


def confirmation(request: Any, shelter: str) -> PlacementConfirmed:
    return PlacementConfirmed(
        source="fed.mechanism",
        time=NOW,
        subject=request.subject,
        recipients=(shelter,),
        correlation_id=request.id,
        data={
            "shelter": shelter,
            "people": 2,
            "arrival_on": NOW.date(),
            "personal": request.data.personal,
        },
    )


def record_one(ledger: SqlLedger, delivery: Any) -> Outcome:
    [outcome] = record_batch(ledger, [delivery], NOW)
    return outcome


def test_an_accepted_placement_releases_the_details_and_the_other_offers(
    ledger: SqlLedger,
) -> None:
    stream = Stream()
    request = offered_by_both(ledger, stream)
    confirmed = confirmation(request, CDMX)
    handed = stream.deliver(confirmed)
    assert handed.subject == HANDED_OVER  # where no shelter can read it

    recorded = record_one(ledger, handed)
    assert recorded.result is Result.RECORDED
    copy, freed = recorded.releases
    assert (copy.subject, copy.copy_key) == (
        f"mech.v1.to.{CDMX}.placement_confirmed",
        f"{confirmed.id}:{CDMX}",
    )
    assert json.loads(copy.payload) == json.loads(confirmed.to_json())  # details included
    assert freed.subject == f"mech.v1.to.{OAXACA}.offer_released"
    assert b"Persona Defensora" not in freed.payload

    # The hub crashed after the commit, before publishing: the redelivery yields the same.
    again = record_one(ledger, handed)
    assert again.result is Result.REDELIVERED and again.releases == recorded.releases

    # What the hub published comes back through the stream: a copy, and the release.
    for release in recorded.releases:
        outcome = record_one(ledger, stream.deliver(release.payload, release.subject))
        assert outcome.result in (Result.COPY, Result.RECORDED), outcome
    assert recipient_status(ledger, request.id, CDMX) == "placed"
    assert recipient_status(ledger, request.id, OAXACA) == "released"
    # Redelivered once more, the offer is not released a second time.
    assert record_one(ledger, handed).releases == (copy,)


def test_a_refused_confirmation_releases_nothing(ledger: SqlLedger) -> None:
    stream = Stream()
    request = b.relocation_request()
    report = CapacityUpdate(source=CDMX, time=NOW, data=CapacityBody(**b.SHELTER_CAPACITY))
    body = PlacementOfferBody(spaces=2, available_from=NOW.date())
    offer = reply_from(OAXACA, PlacementOffer, request, body, NOW)
    record_batch(ledger, [stream.deliver(m) for m in (request, report, offer)], NOW)

    never_offered = stream.deliver(confirmation(request, CDMX))
    refused = record_one(ledger, never_offered)
    assert refused.reason is RejectionReason.ILLEGAL_TRANSITION and refused.releases == ()
    assert refused.notice is not None and refused.notice.recipients == ("fed.mechanism",)
    assert record_one(ledger, never_offered).releases == ()  # nor when redelivered
    assert recipient_status(ledger, request.id, OAXACA) == "offered"  # the real offer stands


def test_no_free_space_releases_nothing(ledger: SqlLedger) -> None:
    stream = Stream()
    request = offered_by_both(ledger, stream, spaces=1)
    refused = record_one(ledger, stream.deliver(confirmation(request, CDMX)))
    assert refused.reason is RejectionReason.NO_CAPACITY and refused.releases == ()
    assert recipient_status(ledger, request.id, OAXACA) == "offered"


def test_a_confirmation_first_seen_on_a_shelters_inbox_is_refused(ledger: SqlLedger) -> None:
    stream = Stream()
    request = offered_by_both(ledger, stream)
    inbox = f"mech.v1.to.{CDMX}.placement_confirmed"
    refused = record_one(ledger, stream.deliver(confirmation(request, CDMX), inbox))
    assert refused.reason is RejectionReason.WRONG_SUBJECT
    assert HANDED_OVER in refused.notice.data.detail  # type: ignore[union-attr]
    assert recipient_status(ledger, request.id, CDMX) == "offered"


def test_an_old_relocation_is_found_behind_hundreds_of_newer_ones(ledger: SqlLedger) -> None:
    """Confirming reads the relocation by its id, not from the newest page of the view."""
    stream = Stream()
    oldest = offered_by_both(ledger, stream)
    newer = [
        stream.deliver(b.relocation_request(at=b.T0 + timedelta(seconds=i + 1)))
        for i in range(PAGE_ROWS + 1)
    ]
    later = NOW + timedelta(hours=1)  # recorded after it: the view lists them first
    assert {o.result for o in record_batch(ledger, newer, later)} == {Result.RECORDED}
    with ledger.session() as session:
        relocation = load_relocation(session, oldest.id)
    assert relocation is not None
    assert {line.shelter for line in relocation.lines} == {CDMX, OAXACA}
