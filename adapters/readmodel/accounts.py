"""The dashboard's staff accounts and its login audit, as staff list them."""

from __future__ import annotations

from sqlmodel import Session, col, select

from adapters.ledger.tables import DashboardLoginRow, DashboardUserRow


def dashboard_users(session: Session) -> list[DashboardUserRow]:
    """Every account, by name (disabled ones too)."""
    return list(session.exec(select(DashboardUserRow).order_by(col(DashboardUserRow.name))))


def dashboard_logins(
    session: Session, limit: int | None = 100, offset: int = 0
) -> list[DashboardLoginRow]:
    """Login attempts, newest first (``limit`` None: every one)."""
    query = select(DashboardLoginRow).order_by(col(DashboardLoginRow.id).desc())
    return list(session.exec(query.limit(limit).offset(offset)))
