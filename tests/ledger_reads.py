"""What tests read back from the ledger, written once."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import RecipientRow
from adapters.natsserver.credentials import CredentialStore


def recipient(ledger: SqlLedger, request_id: str, agency: str) -> RecipientRow | None:
    """The recipient's row, or None while its request is not recorded yet."""
    with ledger.session() as s:
        return s.exec(
            select(RecipientRow).where(
                RecipientRow.request_id == request_id, RecipientRow.agency == agency
            )
        ).first()


def recipient_status(ledger: SqlLedger, request_id: str, agency: str) -> str | None:
    """The recipient's status, or None while its request is not recorded yet."""
    row = recipient(ledger, request_id, agency)
    return row.status if row else None


def recipient_statuses(ledger: SqlLedger, request_id: str) -> dict[str, str]:
    """Every recipient of the request and its status (empty while it is not recorded yet)."""
    with ledger.session() as s:
        rows = s.exec(select(RecipientRow).where(RecipientRow.request_id == request_id))
        return {row.agency: row.status for row in rows}


def credentials(path: Path, agencies: tuple[str, ...]) -> CredentialStore:
    """A deployment's credential store with a user issued for each of ``agencies``."""
    store = CredentialStore(path)
    store.init()
    for agency in agencies:
        store.issue(agency)
    return store
