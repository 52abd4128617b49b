"""What tests read back from the ledger, written once."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import RecipientRow
from adapters.natsserver.credentials import CredentialStore


def recipient_status(ledger: SqlLedger, request_id: str, agency: str) -> str | None:
    """The recipient's status, or None while its request is not recorded yet."""
    with ledger.session() as s:
        row = s.exec(
            select(RecipientRow).where(
                RecipientRow.request_id == request_id, RecipientRow.agency == agency
            )
        ).first()
        return row.status if row else None


def credentials(path: Path, agencies: tuple[str, ...]) -> CredentialStore:
    """A deployment's credential store with a user issued for each of ``agencies``."""
    store = CredentialStore(path)
    store.init()
    for agency in agencies:
        store.issue(agency)
    return store
