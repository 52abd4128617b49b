"""Finding requests by what staff remember: part of a case number, words of what was asked or
answered, or an institution by its name ("fiscalía guerrero"), accents and case aside; and
finding where a person appears through the blind index, without any name in the query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from adapters.ledger.tables import (
    MessageRow,
    PersonIndexRow,
    RecipientRow,
    RequestRow,
    RequestTextRow,
)
from adapters.readmodel.columns import N_, Col, table, terminal
from bus.domain.personal import fold
from schemas.registry import active_registry, state_name


@dataclass(frozen=True)
class SearchLine:
    """One recipient of a request found, and how it was found."""

    case_ref: str | None
    request_id: str
    kind: str
    agency: str
    institution: str
    state: str | None
    status: str
    sent_at: datetime
    found_by: str  # case, text, institution or person

    @property
    def short_id(self) -> str:
        return self.request_id[-8:]


@dataclass(frozen=True)
class PersonHit:
    """A message naming the person searched for: which one of its people it is (``person``),
    so a caseworker is shown that person's name and no other."""

    source: str
    message_id: str
    person: int
    request_id: str
    case_ref: str | None


SEARCH_COLUMNS = table(
    Col("case", N_("Case"), lambda r: r.case_ref, "case"),
    Col("request", N_("Request"), lambda r: r.request_id, "request"),
    Col("kind", N_("Kind"), lambda r: r.kind, "code"),
    Col("institution", N_("Institution"), lambda r: r.institution),
    Col("agency", N_("Agency"), lambda r: r.agency),
    Col("state", N_("State"), lambda r: r.state),
    Col("status", N_("Status"), lambda r: r.status, "code"),
    Col("sent", N_("Sent"), lambda r: r.sent_at, "time"),
    Col("found_by", N_("Found by"), lambda r: r.found_by, "text", lambda r: _found_by(r)),
)
SEARCH = list(SEARCH_COLUMNS.values())
# How a line was found, as the page says it (CSV files and the command line keep the code).
FOUND_BY = {
    "case": N_("case number"),
    "text": N_("words of the request"),
    "institution": N_("institution"),
    "person": N_("person"),
}


def _found_by(line: SearchLine) -> str:
    from adapters.i18n import gettext  # Babel: only the page needs it

    return gettext(FOUND_BY[line.found_by])


SEARCH_CLI = terminal(
    SEARCH_COLUMNS,
    "case",
    "request",
    "kind",
    "institution",
    "state",
    "status",
    "sent",
    "found_by",
    request=lambda r: r.short_id,
)


def _like(words: Iterable[str]) -> list[str]:
    """LIKE patterns containing each word, its wildcards escaped (``\\``)."""
    escaped = (w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for w in words)
    return [f"%{w}%" for w in escaped]


def institutions(words: list[str]) -> dict[str, str]:
    """The agencies whose name, id or state holds every word: id -> name."""
    found: dict[str, str] = {}
    for agency in active_registry():
        state = f"{agency.state} {state_name(agency.state)}" if agency.state else ""
        haystack = fold(f"{agency.name} {agency.id} {state}")
        if all(w in haystack for w in words):
            found[agency.id] = agency.name
    return found


def search(
    session: Session, text: str, limit: int | None = 200, offset: int = 0
) -> list[SearchLine]:
    """The recipients' lines of the requests ``text`` finds, newest first: every recipient
    of a request whose case number holds ``text`` or whose messages hold each of its words,
    and the lines addressed to an institution named by it."""
    query = fold(text).strip()
    words = query.split()
    if not words:
        return []
    agencies = institutions(words)
    patterns = _like(words)
    by_text = select(RequestTextRow.request_id).where(
        and_(*(col(RequestTextRow.text).like(p, escape="\\") for p in patterns))
    )
    by_case = func.lower(col(RequestRow.case_ref)).like(_like([query])[0], escape="\\")
    in_text = col(RequestRow.request_id).in_(by_text)
    to_agency = col(RecipientRow.agency).in_(list(agencies))
    rows = session.exec(
        select(RequestRow, RecipientRow, by_case, in_text)
        .join(RecipientRow, col(RecipientRow.request_id) == col(RequestRow.request_id))
        .where(or_(by_case, in_text, to_agency) if agencies else or_(by_case, in_text))
        .order_by(
            col(RequestRow.sent_at).desc(), col(RequestRow.request_id), col(RecipientRow.position)
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        _line(req, rec, "case" if case else "text" if said else "institution")
        for req, rec, case, said in rows
    ]


def _line(req: RequestRow, rec: RecipientRow, found_by: str) -> SearchLine:
    agency = active_registry().get(rec.agency)
    return SearchLine(
        case_ref=req.case_ref,
        request_id=req.request_id,
        kind=req.type.split(".")[2],
        agency=rec.agency,
        institution=agency.name if agency else rec.agency,
        state=rec.state,
        status=rec.status,
        sent_at=req.sent_at,
        found_by=found_by,
    )


def person_hits(session: Session, whole: str | None, words: list[str]) -> list[PersonHit]:
    """The people in recorded messages whose whole name is ``whole``, or whose name holds every
    word of ``words`` (both keyed hashes from ``adapters.ledger.people.tokens_for``)."""
    wanted = {t for t in (whole, *words) if t}
    if not wanted:
        return []
    rows = session.execute(
        select_columns(
            col(PersonIndexRow.source),
            col(PersonIndexRow.message_id),
            col(PersonIndexRow.person),
            col(PersonIndexRow.request_id),
            col(PersonIndexRow.case_ref),
            col(PersonIndexRow.token),
        ).where(col(PersonIndexRow.token).in_(wanted))
    ).all()
    tokens: dict[PersonHit, set[str]] = defaultdict(set)
    for source, message_id, person, request_id, case_ref, token in rows:
        tokens[PersonHit(source, message_id, person, request_id, case_ref)].add(token)
    return [
        hit
        for hit, held in tokens.items()
        if (whole is not None and whole in held) or (words and held >= set(words))
    ]


def person_lines(session: Session, hits: list[PersonHit]) -> list[tuple[SearchLine, PersonHit]]:
    """Each request a person appears in, one line per recipient, newest first, with the
    message that names them; a message outside any request (a consent, a case record) is
    one line of its own."""
    if not hits:
        return []
    first: dict[str, PersonHit] = {}
    for hit in hits:
        first.setdefault(hit.request_id, hit)
    found = session.exec(
        select(RequestRow, RecipientRow)
        .join(RecipientRow, col(RecipientRow.request_id) == col(RequestRow.request_id))
        .where(col(RequestRow.request_id).in_(list(first)))
        .order_by(col(RequestRow.request_id), col(RecipientRow.position))
    ).all()
    lines = [(_line(req, rec, "person"), first[req.request_id]) for req, rec in found]
    outside = set(first) - {req.request_id for req, _ in found}
    if outside:
        messages = session.exec(
            select(
                MessageRow.message_id, MessageRow.type, MessageRow.source, MessageRow.sent_at
            ).where(col(MessageRow.message_id).in_(outside))
        ).all()
        for message_id, kind, source, sent_at in messages:
            hit = first[message_id]
            if hit.source != source:
                continue
            line = SearchLine(
                hit.case_ref,
                message_id,
                kind.split(".")[2],
                source,
                _name_of(source),
                None,
                "",
                sent_at,
                "person",
            )
            lines.append((line, hit))
    return sorted(lines, key=lambda pair: pair[0].sent_at, reverse=True)


def _name_of(agency_id: str) -> str:
    agency = active_registry().get(agency_id)
    return agency.name if agency else agency_id
