"""Staff accounts: roles, argon2 password hashes, and the audit entry of every login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from adapters.dashboard.roles import Role as Role  # where it was defined before
from adapters.ledger.accounts import AccountBook, account_book
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import DashboardLoginRow, DashboardUserRow
from adapters.readmodel.accounts import dashboard_logins, dashboard_users
from bus.domain.errors import RefusalError

RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.CASEWORKER: 2}
MIN_PASSWORD = 12
# Guessing passwords: after this many failures in a row for one name within the window, that
# name is refused (right password or not) until the window has passed. Counted per name as
# typed, so it says nothing about whether the account exists.
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")


class AccountError(RefusalError, ValueError):
    """An account that cannot be made as asked (name taken, short password, bad role)."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    def may(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]

    @property
    def can_act(self) -> bool:
        return self.may(Role.OPERATOR)

    @property
    def sees_personal(self) -> bool:
        return self.may(Role.CASEWORKER)


class Accounts:
    """Staff accounts and logins, kept in the ledger's database."""

    def __init__(self, ledger: SqlLedger) -> None:
        self.ledger = ledger

    def add(self, name: str, role: Role, password: str) -> User:
        if not name or len(name) > 64 or not name.isprintable():
            raise AccountError("the name must be 1 to 64 printable characters")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
        with account_book(self.ledger) as book:
            if book.user(name):
                raise AccountError(f"there is already an account named {name}")
            book.add_user(name, role.value, _hasher.hash(password), datetime.now(UTC))
            book.commit()
        return User(name, role)

    def disable(self, name: str) -> bool:
        with account_book(self.ledger) as book:
            row = book.user(name)
            if row is None:
                return False
            book.disable(row)
            book.commit()
            return True

    def get(self, name: str) -> User | None:
        """The account if it exists and is enabled (checked on every request, so disabling an
        account or changing its role takes effect at once)."""
        with account_book(self.ledger) as book:
            row = book.user(name)
        if row is None or row.disabled:
            return None
        return User(row.name, Role(row.role))

    def users(self) -> list[DashboardUserRow]:
        with self.ledger.session() as session:
            return dashboard_users(session)

    def login(self, name: str, password: str, client: str | None) -> User | None:
        """Check a password and write the audit entry, whatever the outcome."""
        with account_book(self.ledger) as book:
            row = book.user(name)
            reason = "ok"
            if self._locked(book, name):
                _verify(_DUMMY, password)  # the same time as any refusal
                reason = "locked"
            elif row is None:
                _verify(_DUMMY, password)
                reason = "unknown_user"
            elif not _verify(row.password_hash, password):
                reason = "bad_password"
            elif row.disabled:
                reason = "disabled"
            elif _hasher.check_needs_rehash(row.password_hash):
                book.rehash(row, _hasher.hash(password))
            book.add_login(
                at=datetime.now(UTC),
                name=name[:64],
                success=reason == "ok",
                reason=reason,
                client=(client or "")[:64] or None,
            )
            book.commit()
            return User(row.name, Role(row.role)) if row is not None and reason == "ok" else None

    def locked(self, name: str) -> bool:
        """Whether ``name`` is refused for now after too many failed attempts."""
        with account_book(self.ledger) as book:
            return self._locked(book, name)

    @staticmethod
    def _locked(book: AccountBook, name: str) -> bool:
        since = datetime.now(UTC) - LOCKOUT_WINDOW
        recent = book.recent_outcomes(name[:64], since, LOCKOUT_FAILURES)
        return len(recent) == LOCKOUT_FAILURES and not any(recent)

    def logins(self, limit: int | None = 100, offset: int = 0) -> list[DashboardLoginRow]:
        """Login attempts, newest first (``limit`` None: every one)."""
        with self.ledger.session() as session:
            return dashboard_logins(session, limit, offset)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
