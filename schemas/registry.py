"""The agency registry: who may speak on the bus, and which state each agency belongs to."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.errors import ContractError

AGENCY_ID_PATTERN = r"^[a-z][a-z0-9]*\.[a-z0-9][a-z0-9-]*$"
_AGENCY_ID_RE = re.compile(AGENCY_ID_PATTERN)
# The variable a deployment names its registry file in; read by whoever runs the process.
_SUBDIVISIONS: Any = pycountry.subdivisions  # untyped library


class AgencyKind(StrEnum):
    FEDERAL = "federal"
    BOARD = "board"
    SYSTEM = "system"
    GOVERNMENT = "government"
    COMMISSION = "commission"
    PROSECUTOR = "prosecutor"
    SHELTER = "shelter"


FEDERAL_KINDS = frozenset({AgencyKind.FEDERAL, AgencyKind.BOARD, AgencyKind.SYSTEM})


@cache
def state_codes() -> frozenset[str]:
    """The 32 ISO 3166-2:MX federal entity codes without the ``MX-`` prefix (AGU ... ZAC)."""
    subdivisions = _SUBDIVISIONS.get(country_code="MX") or []
    return frozenset(s.code.removeprefix("MX-") for s in subdivisions)


def state_name(code: str) -> str:
    sub = _SUBDIVISIONS.get(code=f"MX-{code}")
    if sub is None:
        raise KeyError(code)
    return str(sub.name)


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=AGENCY_ID_PATTERN, max_length=64)
    kind: AgencyKind
    name: str = Field(min_length=1, max_length=200)  # the official name staff read
    # how an official addresses its head, by office ("Titular de la Fiscalía General del Estado
    # de Guerrero"); a deployment's own registry may leave it out
    head: str | None = Field(default=None, min_length=1, max_length=200)
    state: str | None = None
    region: str | None = None

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str | None) -> str | None:
        if value is not None and value not in state_codes():
            raise ValueError(f"{value!r} is not an ISO 3166-2:MX state code")
        return value

    @property
    def is_federal(self) -> bool:
        return self.kind in FEDERAL_KINDS

    @property
    def addressee(self) -> str:
        """Whom a letter or an invitation is addressed to: the head's title, else the
        institution."""
        return self.head or self.name


class RegistryError(ContractError):
    """The registry file is unreadable or inconsistent."""


class AgencyRegistry:
    """An immutable lookup of agencies by id."""

    def __init__(self, agencies: list[Agency]) -> None:
        by_id: dict[str, Agency] = {}
        for agency in agencies:
            if agency.id in by_id:
                raise RegistryError(f"agency {agency.id!r} is listed twice")
            if agency.kind in FEDERAL_KINDS and not agency.id.startswith("fed."):
                raise RegistryError(f"federal agency {agency.id!r} must use the 'fed.' scope")
            if agency.kind not in FEDERAL_KINDS and agency.id.startswith("fed."):
                raise RegistryError(f"non-federal agency {agency.id!r} may not use 'fed.'")
            by_id[agency.id] = agency
        self._by_id = by_id

    @classmethod
    def from_toml(cls, text: str, *, origin: str = "<registry>") -> AgencyRegistry:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RegistryError(f"{origin}: not valid TOML: {exc}") from exc
        entries = raw.get("agency")
        if not isinstance(entries, list) or not entries:
            raise RegistryError(f"{origin}: expected one or more [[agency]] tables")
        agencies = []
        for index, entry in enumerate(entries):
            try:
                agencies.append(Agency.model_validate(entry))
            except ValidationError as exc:
                raise RegistryError(f"{origin}: agency #{index + 1}: {exc}") from exc
        return cls(agencies)

    @classmethod
    def load(cls, path: Path | None = None) -> AgencyRegistry:
        """Load ``path``, else the shipped defaults."""
        if path is not None:
            return cls.from_toml(path.read_text(encoding="utf-8"), origin=str(path))
        text = resources.files("schemas").joinpath("data/agencies.toml").read_text("utf-8")
        return cls.from_toml(text, origin="schemas/data/agencies.toml")

    def __contains__(self, agency_id: object) -> bool:
        return agency_id in self._by_id

    def __iter__(self) -> Iterator[Agency]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, agency_id: str) -> Agency | None:
        return self._by_id.get(agency_id)

    def __getitem__(self, agency_id: str) -> Agency:
        try:
            return self._by_id[agency_id]
        except KeyError:
            raise KeyError(f"unknown agency {agency_id!r}") from None

    def of_state(self, state: str) -> list[Agency]:
        return [a for a in self._by_id.values() if a.state == state]

    def highest_authority(self, state: str) -> Agency | None:
        """The state's Secretary of Government: the second rung of the escalation ladder."""
        for agency in self.of_state(state):
            if agency.kind is AgencyKind.GOVERNMENT:
                return agency
        return None


_active: AgencyRegistry | None = None


def active_registry() -> AgencyRegistry:
    """The registry that message validation checks agency ids against."""
    global _active
    if _active is None:
        _active = AgencyRegistry.load()
    return _active


def use_registry(registry: AgencyRegistry | None) -> None:
    """Install a deployment's registry (None: reload the default on next use)."""
    global _active
    _active = registry


def is_agency_id(value: str) -> bool:
    return bool(_AGENCY_ID_RE.match(value))
