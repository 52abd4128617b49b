"""What staff type to name things, checked: a state (code or name, any case, with or without
accents), an agency (its registry id, with the closest ones for a near miss), an urgency or a
request kind (in English or Spanish), a case number (any case), and a request id
(whole, or at least six characters of its start or of its end, as the tables show it).

An unknown value raises ``UnknownReference``, whose message says what is valid in the current
language: the command line exits 2 with it, the dashboard answers 400 with it. Never an empty
table for a mistyped filter."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, or_, select

from adapters.i18n import N_, _, translations
from adapters.ledger.tables import MessageRow, RecipientRow, RequestRow
from adapters.readmodel.columns import CODES
from bus.domain.errors import RefusalError
from schemas.registry import active_registry, state_codes, state_name

# The shortest part of an id accepted in place of the whole (ULIDs have 26 characters).
SHORTEST_ID = 6
URGENCIES = ("urgent", "ordinary")
KINDS = (
    "protection_measure",
    "investigation",
    "information",
    "relocation",
    "board_summons",
    "implementation_meeting",
)
CASE_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9/-]{2,39}$")  # schemas.envelope.CaseRef
# Names people use that are not the ISO name (pycountry's names are the long official ones).
_STATE_ALIASES = {
    "cdmx": "CMX",
    "df": "CMX",
    "distrito federal": "CMX",
    "ciudad de mexico": "CMX",
    "estado de mexico": "MEX",
    "edomex": "MEX",
    "edo mex": "MEX",
    "coahuila": "COA",
    "michoacan": "MIC",
    "veracruz": "VER",
}
_MATCHES_SHOWN = 10


class UnknownReference(RefusalError, ValueError):
    """A value that names nothing known; the message says what is valid."""

    code = "unknown_reference"


class Ambiguous(UnknownReference):
    """Part of an id that more than one id has; the message lists them."""

    code = "ambiguous_reference"


def _plain(value: str) -> str:
    """Lower case, no accents, one space between words, '_' as a space."""
    decomposed = unicodedata.normalize("NFKD", value.replace("_", " ").replace(".", " "))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


# -- states --------------------------------------------------------------------------------


def _state_names() -> dict[str, str]:
    names = {_plain(state_name(code)): code for code in state_codes()}
    names.update({_plain(code): code for code in state_codes()})
    names.update(_STATE_ALIASES)
    return names


def state(value: str) -> str:
    """The ISO 3166-2:MX code (without ``MX-``) of a state given by code or name."""
    plain = _plain(value)
    found = _state_names().get(plain.removeprefix("mx-").removeprefix("mx "))
    if found is not None:
        return found
    listed = ", ".join(f"{code} ({state_name(code)})" for code in sorted(state_codes()))
    raise UnknownReference(
        _("%(value)r is not a state of Mexico. Write its code or its name: %(listed)s")
        % {"value": value, "listed": listed}
    )


# -- agencies -------------------------------------------------------------------------------


def agency(value: str) -> str:
    """A registry id (any case); a near miss is refused naming the closest agencies."""
    registry = active_registry()
    wanted = value.strip().lower()
    if wanted in registry:
        return wanted
    ids = sorted(a.id for a in registry)
    close = difflib.get_close_matches(wanted, ids, n=3, cutoff=0.6)
    scope = wanted.split(".", 1)[0].upper()
    if scope in state_codes():  # the state is right: only its agencies, all of them if none
        ours = sorted(a.id for a in registry.of_state(scope))
        close = [one for one in close if one in ours] or ours
    if close:
        named = "; ".join(f"{one} ({registry[one].name})" for one in close)
        raise UnknownReference(
            _("%(value)r is not an agency in the registry. Did you mean: %(named)s?")
            % {"value": value, "named": named}
        )
    raise UnknownReference(
        _(
            "%(value)r is not an agency in the registry: ids are written like gro.government "
            "or gro.prosecutor (the state's code, a dot, the institution)"
        )
        % {"value": value}
    )


# -- urgencies and kinds --------------------------------------------------------------------


def _words(codes: Iterable[str]) -> dict[str, str]:
    """Every way to write each code: itself, and its label in English and in Spanish."""
    spanish = translations("es")
    words: dict[str, str] = {}
    for code in codes:
        for word in (code, CODES[code], spanish.gettext(CODES[code])):
            words[_plain(word)] = code
    return words


def _choice(value: str, codes: tuple[str, ...], refusal: str) -> str:
    found = _words(codes).get(_plain(value))
    if found is not None:
        return found
    listed = ", ".join(_named(code) for code in codes)
    raise UnknownReference(_(refusal) % {"value": value, "listed": listed})


def _named(code: str) -> str:
    """``code`` as staff read it, with the code itself when the two differ."""
    label = _(CODES[code])
    return label if _plain(label) == _plain(code) else f"{label} ({code})"


def urgency(value: str) -> str:
    """``urgent`` or ``ordinary``, written in English or Spanish."""
    return _choice(value, URGENCIES, N_("%(value)r is not an urgency: one of %(listed)s"))


def kind(value: str) -> str:
    """A request kind (``protection_measure`` ...), written as its code or its name."""
    return _choice(value, KINDS, N_("%(value)r is not a kind of request: one of %(listed)s"))


def refusal_reason(value: str) -> str:
    """Why the hub kept a dead letter (``schema``, ``oversize`` ...), in any case."""
    from schemas.tracking import RejectionReason

    reasons = [reason.value for reason in RejectionReason]
    wanted = value.strip().lower().replace(" ", "_").replace("-", "_")
    if wanted in reasons:
        return wanted
    raise UnknownReference(
        _("%(value)r is not a reason the hub keeps a dead letter for: one of %(listed)s")
        % {"value": value, "listed": ", ".join(reasons)}
    )


# -- case numbers ---------------------------------------------------------------------------


def case_number(value: str) -> str:
    """The case number in its canonical form (upper case); refused if it cannot be one."""
    canonical = value.strip().upper()
    if not CASE_NUMBER.match(canonical):
        raise UnknownReference(
            _(
                "%(value)r is not a case number: letters, digits, '-' or '/', 3 to 40 "
                "characters, e.g. MPDDHP-2026-0412"
            )
            % {"value": value}
        )
    return canonical


def known_case(session: Session, value: str) -> str:
    """A case number the ledger holds, in its canonical form; refused naming the closest."""
    canonical = case_number(value)
    held = select(MessageRow.case_ref).where(MessageRow.case_ref == canonical).limit(1)
    if session.exec(held).first() is not None:
        return canonical
    cases = session.exec(
        select(MessageRow.case_ref).where(col(MessageRow.case_ref).is_not(None)).distinct()
    ).all()
    close = difflib.get_close_matches(canonical, [c for c in cases if c], n=3, cutoff=0.7)
    if close:
        raise UnknownReference(
            _("no case %(value)s in the ledger. Did you mean: %(close)s?")
            % {"value": canonical, "close": ", ".join(close)}
        )
    raise UnknownReference(_("no case %(value)s in the ledger") % {"value": canonical})


def case_of(session: Session, value: str) -> str:
    """A case number the ledger holds, or the case of the request ``value`` names (the tables
    show requests by the end of their id)."""
    try:
        return known_case(session, value)
    except UnknownReference as not_a_case:
        if len(value.strip()) < SHORTEST_ID:
            raise
        try:
            found = session.get(RequestRow, request_id(session, value))
        except Ambiguous:
            raise
        except UnknownReference:
            raise not_a_case from None
        if found is None or found.case_ref is None:
            raise
        return found.case_ref


# -- ids ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """One id a fragment matched, with what tells it apart."""

    id: str
    case_ref: str | None
    agencies: tuple[str, ...]

    def described(self) -> str:
        registry = active_registry()
        names = ", ".join(registry[a].name if a in registry else a for a in self.agencies)
        return f"{self.id} ({self.case_ref or '—'}; {names})"


def _fragment(value: str) -> str:
    fragment = value.strip().upper()
    if len(fragment) < SHORTEST_ID:
        raise UnknownReference(
            _("%(value)r is too short for a request's id: give at least %(n)d characters of it")
            % {"value": value, "n": SHORTEST_ID}
        )
    return fragment


def _one(value: str, matches: list[Match]) -> str:
    if len(matches) == 1:
        return matches[0].id
    if not matches:
        raise UnknownReference(_("no request %(value)s in the ledger") % {"value": value})
    shown = "; ".join(m.described() for m in matches[:_MATCHES_SHOWN])
    raise Ambiguous(
        _("%(value)s names more than one request: %(shown)s. Give more characters of it")
        % {"value": value, "shown": shown}
    )


def _id_like(column: str, fragment: str) -> ColumnElement[bool]:
    """An id that starts or ends with ``fragment`` (the tables show the end of an id)."""
    return or_(col(column).startswith(fragment), col(column).endswith(fragment))


def request_id(session: Session, value: str) -> str:
    """The whole id of a request given whole or by at least six characters of its start or
    end (any case)."""
    if session.get(RequestRow, value.strip()) is not None:
        return value.strip()
    fragment = _fragment(value)
    found = session.exec(
        select(RequestRow.request_id, RequestRow.case_ref)
        .where(_id_like(RequestRow.request_id, fragment))
        .order_by(col(RequestRow.request_id))
        .limit(_MATCHES_SHOWN + 1)
    ).all()
    ids = [rid for rid, _case in found]
    recipients: dict[str, list[str]] = {rid: [] for rid in ids}
    if ids:
        for rid, one in session.exec(
            select(RecipientRow.request_id, RecipientRow.agency)
            .where(col(RecipientRow.request_id).in_(ids))
            .order_by(col(RecipientRow.request_id), col(RecipientRow.position))
        ):
            recipients[rid].append(one)
    matches = [Match(rid, case, tuple(recipients[rid])) for rid, case in found]
    return _one(value, matches)
