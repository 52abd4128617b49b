"""Bodies shared by several message families: personal details and evidence references."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from schemas.envelope import Body, ShortText

PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{7,20}$")]


class Coordinates(Body):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class PersonalDetails(Body):
    """Who the protected person is and where: only the agencies that must act on it see it.

    Every field here is personal data: it is never logged, and it is stripped from what an
    agency receives unless that agency needs it (docs/domain.md, "Need-to-know").
    """

    full_name: ShortText
    address: ShortText | None = None
    phone: PhoneNumber | None = None
    coordinates: Coordinates | None = None


class EvidenceRef(Body):
    """A pointer to evidence held elsewhere (a file number, a document URI), never the file."""

    reference: ShortText
    description: ShortText | None = None
