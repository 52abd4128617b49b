"""The dashboard's staff accounts and its login audit, as kept in the ledger's database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlmodel import Session, col, select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DashboardLoginRow, DashboardUserRow


class AccountBook:
    """One transaction on the accounts: look one up, add, disable or rehash it, and write
    the audit entry of a login attempt; nothing is kept until ``commit``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def user(self, name: str) -> DashboardUserRow | None:
        return self.session.exec(
            select(DashboardUserRow).where(DashboardUserRow.name == name)
        ).first()

    def add_user(self, name: str, role: str, password_hash: str, created_at: datetime) -> None:
        self.session.add(
            DashboardUserRow(
                name=name, role=role, password_hash=password_hash, created_at=created_at
            )
        )

    def disable(self, row: DashboardUserRow) -> None:
        row.disabled = True
        self.session.add(row)

    def rehash(self, row: DashboardUserRow, password_hash: str) -> None:
        row.password_hash = password_hash
        self.session.add(row)

    def recent_outcomes(self, name: str, since: datetime, limit: int) -> list[bool]:
        """Whether each of the latest ``limit`` attempts for ``name`` since ``since``
        succeeded, newest first."""
        return list(
            self.session.exec(
                select(DashboardLoginRow.success)
                .where(DashboardLoginRow.name == name, DashboardLoginRow.at >= since)
                .order_by(col(DashboardLoginRow.id).desc())
                .limit(limit)
            ).all()
        )

    def add_login(
        self, *, at: datetime, name: str, success: bool, reason: str, client: str | None
    ) -> None:
        self.session.add(
            DashboardLoginRow(at=at, name=name, success=success, reason=reason, client=client)
        )

    def commit(self) -> None:
        self.session.commit()


@contextmanager
def account_book(ledger: SqlLedger) -> Iterator[AccountBook]:
    with Session(ledger.engine) as session:
        yield AccountBook(session)
