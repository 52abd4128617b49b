"""The record of who sought or saw people's details (``personal_access``): every search of a
person by name, every case shown or printed with its people. Written in a transaction of its
own, before the details are shown: no record, no details."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import PersonalAccessRow

ACTIONS = ("person_search", "case_personal", "case_file_personal")


@dataclass(frozen=True)
class PersonalAccess:
    actor: str  # the dashboard account, or the operator's user name at the command line
    role: str  # caseworker, operator ...
    channel: str  # cli, dashboard
    action: str  # one of ACTIONS
    case_refs: tuple[str, ...] = ()
    matches: int = 0


def record_access(ledger: SqlLedger, access: PersonalAccess, at: datetime) -> None:
    """Write ``access``, made at ``at``; raises if it cannot be written (then show nothing)."""
    if access.action not in ACTIONS:
        raise ValueError(f"unknown personal access {access.action!r}")
    refs = " ".join(sorted(set(access.case_refs)))
    with Session(ledger.engine) as session:
        session.add(
            PersonalAccessRow(
                at=at,
                actor=access.actor[:100],
                role=access.role[:40],
                channel=access.channel,
                action=access.action,
                case_refs=refs if len(refs) <= 2000 else refs[:1996] + " ...",
                matches=access.matches,
            )
        )
        session.commit()


def accesses(ledger: SqlLedger, since: datetime | None = None) -> Iterable[PersonalAccessRow]:
    """The record, oldest first (``since``: from then on)."""
    with Session(ledger.engine) as session:
        query = select(PersonalAccessRow).order_by(col(PersonalAccessRow.id))
        if since is not None:
            query = query.where(PersonalAccessRow.at >= since)
        return list(session.exec(query).all())
