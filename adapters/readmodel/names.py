"""Institutions by name: what staff read wherever the ledger keeps an agency id (programs'
output keeps the id beside it, see ``adapters.output.Named``)."""

from __future__ import annotations

from adapters.output import Named


def institution(agency_id: str) -> Named:
    """``agency_id`` shown by its institution's registry name (an id the registry does not
    know, such as a dead letter's sender, is shown as it came)."""
    from schemas.registry import active_registry  # pycountry: only when a name is shown

    agency = active_registry().get(agency_id)
    return Named(agency_id, agency.name if agency else agency_id)


def institution_or_none(agency_id: str | None) -> Named | None:
    return institution(agency_id) if agency_id else None


def addressee(agency_id: str) -> str:
    """Whom an invitation or a notice to ``agency_id`` is addressed to: its head's title
    ("Titular de la Fiscalía General del Estado de Guerrero"), else the institution."""
    from schemas.registry import active_registry

    agency = active_registry().get(agency_id)
    return agency.addressee if agency else agency_id
