"""Presumed aggressors in the ledger: recording each naming and lifting (on the unit of work),
and looking up which agencies are named on a case now (for the hub, the sweeper, the sending
path and the views)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from adapters.ledger.tables import PresumedAggressorRow, RequestRow
from bus.domain import aggressors
from bus.domain.aggressors import AggressorChange
from schemas.envelope import Envelope
from schemas.registry import AgencyRegistry
from schemas.tracking import AggressorAction

# Built once: the hub asks it of every batch (see adapters.ledger.unit on prebuilt statements).
_NAMED = select(PresumedAggressorRow.case_ref, PresumedAggressorRow.agency).where(
    col(PresumedAggressorRow.case_ref).in_(bindparam("cases", expanding=True)),
    col(PresumedAggressorRow.lifted_at).is_(None),
)


def named(session: Session, case_refs: Iterable[str]) -> dict[str, frozenset[str]]:
    """The agencies named presumed aggressor and not lifted, by case (cases with none absent)."""
    cases = set(case_refs)
    if not cases:
        return {}
    rows = session.exec(_NAMED, params={"cases": sorted(cases)}).all()
    found: dict[str, set[str]] = defaultdict(set)
    for case_ref, agency in rows:
        found[case_ref].add(agency)
    return {case: frozenset(agencies) for case, agencies in found.items()}


def named_on(session: Session, case_ref: str | None) -> frozenset[str]:
    if case_ref is None:
        return frozenset()
    return named(session, [case_ref]).get(case_ref, frozenset())


def cases_naming(session: Session, agency: str) -> dict[str, datetime]:
    """The cases on which ``agency`` is named presumed aggressor now, with when it was named."""
    rows = session.exec(
        select(PresumedAggressorRow.case_ref, PresumedAggressorRow.set_at).where(
            PresumedAggressorRow.agency == agency,
            col(PresumedAggressorRow.lifted_at).is_(None),
        )
    ).all()
    return dict(rows)


def barred_recipients(
    session: Session, message: Envelope, registry: AgencyRegistry
) -> tuple[str | None, tuple[str, ...]]:
    """The case ``message`` is about and its recipients named presumed aggressor on it, as
    the hub would judge it (bus.domain.recording): the sending path refuses these first."""
    if not aggressors.checked(message, registry):
        return None, ()
    case = case_of(session, message)
    return case, aggressors.barred(message.recipients, named_on(session, case))


def case_of(session: Session, message: Envelope) -> str | None:
    """The case a message is about: its subject, else its request's (a follow-up, a rung)."""
    if message.subject is not None or message.correlation_id is None:
        return message.subject
    request = session.get(RequestRow, message.correlation_id)
    return request.case_ref if request is not None else None


class AggressorRecords:
    """The ``bus.domain.ports.LedgerUnit`` methods for presumed aggressors; ``SqlUnit`` has
    them. Rows named or lifted in this unit are kept by (case, agency) until it commits, so a
    lifting later in the same batch finds its row, and a lookup sees both."""

    session: Session
    _named: dict[tuple[str, str], PresumedAggressorRow]
    _named_in_db: dict[str, frozenset[str]]  # by case, as the database had it

    def expect_named(self, case_refs: Iterable[str]) -> None:
        """Read who is named on a batch's cases in one query per 500 cases, not one per case."""
        wanted = sorted(set(case_refs) - self._named_in_db.keys())
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            with self.session.no_autoflush:
                found = named(self.session, chunk)
            for case_ref in chunk:
                self._named_in_db[case_ref] = found.get(case_ref, frozenset())

    def presumed_aggressors(self, case_ref: str) -> frozenset[str]:
        # Asked for every federal message of a batch: the database once per case and unit
        # (at once for the whole batch after ``expect_named``).
        if case_ref not in self._named_in_db:
            with self.session.no_autoflush:
                self._named_in_db[case_ref] = named_on(self.session, case_ref)
        flagged = set(self._named_in_db[case_ref])
        for (case, agency), row in self._named.items():
            if case == case_ref:
                (flagged.discard if row.lifted_at else flagged.add)(agency)
        return frozenset(flagged)

    def record_aggressor(self, change: AggressorChange) -> None:
        key = (change.case_ref, change.agency)
        if change.action is AggressorAction.SET:
            row = PresumedAggressorRow(
                case_ref=change.case_ref,
                agency=change.agency,
                set_by=change.by,
                set_by_role=change.role,
                set_at=change.at,
                set_message_id=change.message_id,
            )
            self.session.add(row)
            self._named[key] = row
            return
        row_or_none = self._named.get(key) or self._open_row(change)
        if row_or_none is None:
            raise LookupError(f"{change.agency} is not named on case {change.case_ref}")
        row_or_none.lifted_by = change.by
        row_or_none.lifted_by_role = change.role
        row_or_none.lifted_at = change.at
        row_or_none.lifted_message_id = change.message_id
        self._named[key] = row_or_none

    def _open_row(self, change: AggressorChange) -> PresumedAggressorRow | None:
        with self.session.no_autoflush:
            return self.session.exec(
                select(PresumedAggressorRow).where(
                    PresumedAggressorRow.case_ref == change.case_ref,
                    PresumedAggressorRow.agency == change.agency,
                    col(PresumedAggressorRow.lifted_at).is_(None),
                )
            ).first()
