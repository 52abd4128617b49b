"""Who may know the people's details, and how they are kept at rest."""

from __future__ import annotations

import json

import pytest

from adapters.ledger.sealing import Sealer, SealError
from bus.domain.personal import join, split
from bus.domain.redaction import for_recipient, may_know_personal
from schemas.registry import AgencyKind, AgencyRegistry
from tests import builders as b

PERSON = {"full_name": "Periodista P. Ejemplo", "address": "Domicilio 1"}


@pytest.mark.parametrize(
    ("message", "recipient", "sees"),
    [
        (
            b.patrol_request(data={**b.patrol_request().data.model_dump(), "personal": PERSON}),
            "gro.government",
            True,
        ),
        (
            b.patrol_request(
                to="gro.commission",
                data={**b.patrol_request().data.model_dump(), "personal": PERSON},
            ),
            "gro.commission",
            False,
        ),
        (
            b.investigation_request(
                data={**b.investigation_request().data.model_dump(), "personal": PERSON}
            ),
            "gro.prosecutor",
            True,
        ),
        (b.relocation_request(), "shelter.casa-refugio-cdmx", False),
        (b.relocation_request(), "fed.board", True),
    ],
    ids=["police-protecting", "commission", "prosecutor", "shelter-unconfirmed", "federal"],
)
def test_need_to_know_per_type_and_recipient(message: object, recipient: str, sees: bool) -> None:
    copy = for_recipient(message, recipient, b.REGISTRY)  # type: ignore[arg-type]
    assert bool(copy.data.personal) is sees


def test_personal_details_split_and_sealed() -> None:
    message = b.relocation_request()
    body, personal = split(message.to_json())
    assert b"Persona Defensora" not in body and personal is not None
    sealer = Sealer.ephemeral()
    sealed = sealer.seal(personal, message.id)
    assert b"Persona Defensora" not in sealed
    assert join(body, sealer.open(sealed, message.id))["data"]["personal"] == json.loads(personal)
    with pytest.raises(SealError):  # moved to another row
        sealer.open(sealed, "01SOMEOTHERMESSAGE000000000")
    with pytest.raises(SealError):  # another deployment's key
        Sealer.ephemeral().open(sealed, message.id)
    assert split(b"not json") == (b"not json", None)


def test_personal_details_spelled_with_escapes_are_still_split() -> None:
    # split() skips parsing bodies without the key; a key written with \u escapes must not
    # slip personal details past it into the stored body.
    body, personal = split(b'{"data": {"\\u0070ersonal": {"full_name": "Periodista"}}}')
    assert b"Periodista" not in body and personal == b'{"full_name": "Periodista"}'
    assert split(b'{"data": {"instructions": "x"}}') == (b'{"data": {"instructions": "x"}}', None)


@pytest.mark.parametrize(
    ("kind", "sees"),
    [(AgencyKind.GOVERNMENT, True), (AgencyKind.COMMISSION, False), (AgencyKind.PROSECUTOR, False)],
)
def test_need_to_know_follows_the_registry_passed_in(kind: AgencyKind, sees: bool) -> None:
    """The same patrol request and recipient id: what it may know is its kind in the registry
    the caller passes, not the process-wide one."""
    message = b.patrol_request(data={**b.patrol_request().data.model_dump(), "personal": PERSON})
    registry = AgencyRegistry(
        [a.model_copy(update={"kind": kind}) if a.id == "gro.government" else a for a in b.REGISTRY]
    )
    assert may_know_personal(message, "gro.government", registry) is sees
    assert bool(for_recipient(message, "gro.government", registry).data.personal) is sees
