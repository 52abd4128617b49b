"""What a table's column is: the key (the field of the command line's JSON), the label (the
header people read on the page, in the terminal and in the CSV files, translated), the getter
and how the page shows it; each table's columns are defined once, in ``record_columns`` and
``figure_columns``. Codes are shown in words, through one table (``CODES``). The dashboard and
the command line each pick the columns they show, in their own order."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.i18n import N_ as N_  # the tables' modules mark their labels with it
from adapters.i18n import gettext, local_iso
from adapters.output import Column, write_csv
from adapters.readmodel.narration import KINDS
from bus.domain.federal import MECHANISM_INSTRUMENT


@dataclass(frozen=True)
class Col:
    key: str  # CSV header
    label: str  # msgid of the page's header
    get: Callable[[Any], object]
    # text | code | codes | detail | fields | time | overdue | pct | num | request | case
    kind: str = "text"
    # what the page shows, when not the CSV's value (overdue: the due time, counted to now,
    # because the CSV's hours are rounded to 0.01 and a just-missed deadline must show late)
    shown: Callable[[Any], object] | None = None

    def html_value(self, row: Any) -> object:
        return (self.shown or self.get)(row)


Columns = dict[str, Col]


def table(*cols: Col) -> Columns:
    return {c.key: c for c in cols}


def pick(columns: Columns, *keys: str) -> list[Col]:
    """The columns ``keys``, in that order (the dashboard's tables)."""
    return [columns[key] for key in keys]


def code_word(value: object) -> object:
    """A code as people read it, in the current language (``True``: "yes"); anything that is
    not a code (an action in the agency's own words) as it is."""
    if isinstance(value, tuple | list):
        return " + ".join(str(code_word(v)) for v in value)
    code = str(value)
    # a message type is shown as its family and name ("mech.request.relocation.v1")
    found = CODES.get(code) or CODES.get(code.removeprefix("mech.").removesuffix(".v1"))
    return gettext(found) if found is not None else value


def codes_word(value: object) -> object:
    """Several codes joined by " + " (an agenda's instruments), each in words."""
    return " + ".join(str(code_word(v)) for v in str(value).split(" + "))


_WORDS = {"code": code_word, "codes": codes_word}


def _column(col: Col, get: Callable[[Any], object]) -> Column:
    return Column(col.key, get, col.label, _WORDS.get(col.kind))


def terminal(columns: Columns, *keys: str, **shown: Callable[[Any], object]) -> list[Column]:
    """The command line's columns ``keys``, in that order, under their translated labels;
    ``shown``: a key whose terminal value differs from the CSV file's of the dashboard (a
    shortened id, a word for nothing). JSON keeps the keys and the codes."""
    return [_column(columns[key], shown.get(key, columns[key].get)) for key in keys]


def csv_text(rows: Sequence[object], cols: Sequence[Col]) -> str:
    """The dashboard's CSV file, in the current language (``i18n.speaking``)."""

    def plain(col: Col) -> Callable[[Any], object]:
        def value(row: Any) -> object:
            found = col.get(row)
            return local_iso(found) if isinstance(found, datetime) else found

        return value

    out = io.StringIO()
    write_csv(rows, [_column(c, plain(c)) for c in cols], out)
    return out.getvalue()


# Every code a table can show, in words (the page, the terminal and the CSV files; --json keeps
# the codes): request kinds, urgencies, statuses, clocks, standings, rungs of the ladder,
# reasons of dead letters, message types ("family.name"), flags, yes and no, roles.
CODES = {
    # request kinds (schemas.requests)
    "protection_measure": N_("protection measure"),
    "investigation": N_("investigation"),
    "information": N_("information"),
    "relocation": N_("relocation"),
    "board_summons": N_("Board summons"),
    "implementation_meeting": N_("implementation meeting"),
    "recall": N_("recall"),
    "update": N_("update"),
    # urgencies (schemas.envelope.Urgency)
    "urgent": N_("urgent"),
    "ordinary": N_("ordinary"),
    # a recipient's status (bus.domain.request_state.RecipientStatus)
    "sent": N_("sent"),
    "delivered": N_("delivered"),
    "acknowledged": N_("acknowledged"),
    "accepted": N_("accepted"),
    "declined": N_("declined"),
    "provisional": N_("provisional"),
    "cancelled": N_("cancelled"),
    "offered": N_("offered"),
    "placed": N_("placed"),
    "released": N_("released"),
    "arrived": N_("arrived"),
    "departed": N_("departed"),
    # a commitment's status (CommitmentStatus)
    "committed": N_("committed"),
    "in_progress": N_("in progress"),
    "fulfilled": N_("fulfilled"),
    "partially_fulfilled": N_("partially fulfilled"),
    "withdrawn": N_("withdrawn"),
    # clocks (bus.domain.policy.Clock): what is owed
    "acknowledgement": N_("acknowledgement"),
    "answer": N_("answer"),
    "shelter_answer": N_("shelter's answer"),
    "implementation": N_("implementation"),
    "progress_report": N_("progress report"),
    "review": N_("review of the measures"),
    "measures_issued": N_("urgent measures issued"),
    "risk_assessment": N_("risk study"),
    "decision_communicated": N_("Board decision communicated"),
    # what an agenda says is owed when no commitment was made yet (readmodel.cases)
    "acknowledge the request": N_("acknowledge the request"),
    "answer the request": N_("answer the request"),
    # the Mechanism's own obligations (bus.domain.federal_clocks.Standing)
    "on_time": N_("met on time"),
    "late": N_("met late"),
    "open": N_("open"),
    "overdue": N_("overdue"),
    "not_started": N_("met before it started"),
    # rungs of the ladder (schemas.tracking.EscalationLevel)
    "reminder": N_("reminder"),
    "authority_notice": N_("notice to the head of the authority"),
    "board_agenda": N_("placed on the Board agenda"),
    "monthly_report": N_("named in the monthly report"),
    # why the hub refused a message (schemas.tracking.RejectionReason)
    "malformed": N_("unreadable (not a JSON object)"),
    "oversize": N_("too large"),
    "schema": N_("does not follow the contract"),
    "unknown_type": N_("unknown message type"),
    "unknown_agency": N_("unknown agency"),
    "spoofed_source": N_("sender posing as another agency"),
    "wrong_subject": N_("published on the wrong subject"),
    "illegal_transition": N_("not allowed at this point of the request"),
    "unknown_request": N_("unknown request"),
    "not_addressed": N_("the sender was not asked"),
    "duplicate": N_("duplicate"),
    "expired": N_("expired"),
    "no_capacity": N_("no room at the shelter"),
    "invalid_dates": N_("impossible dates"),
    # why an agency declined (schemas.responses.DeclineReason)
    "not_competent": N_("not competent"),
    "insufficient_resources": N_("insufficient resources"),
    "insufficient_information": N_("insufficient information"),
    "already_attended": N_("already attended"),
    "beneficiary_refused": N_("the beneficiary refused"),
    "other": N_("other"),
    # a shelter's security (schemas.capacity.SecurityLevel)
    "basic": N_("basic"),
    "restricted_access": N_("restricted access"),
    "high": N_("high"),
    # measure kinds (schemas.measures.MeasureKind)
    "perimeter_patrol": N_("perimeter patrols"),
    "bodyguard": N_("bodyguard"),
    "escort": N_("escort on journeys"),
    "cameras": N_("cameras"),
    "locks": N_("locks"),
    "lighting": N_("lighting"),
    "panic_button": N_("panic button"),
    "satellite_phone": N_("satellite phone"),
    "emergency_phone_line": N_("emergency phone line"),
    "relocation_support": N_("relocation support"),
    # flags and marks
    "OVERDUE": N_("OVERDUE"),
    "STALE": N_("STALE"),
    "beyond the legal limit": N_("beyond the legal limit"),
    "True": N_("yes"),
    "False": N_("no"),
    # message types, short (the dashboard's live events); as "family.name" below (KINDS)
    "escalated": N_("escalated"),
    "no_report": N_("no report"),
    "acknowledgement_overdue": N_("reminder: acknowledgement overdue"),
    "commitment_overdue": N_("reminder: commitment overdue"),
    "commitment_made": N_("commitment made"),
    "commitment_fulfilled": N_("commitment fulfilled"),
    "placement_offer": N_("placement offer"),
    "placement_confirmed": N_("placement confirmed"),
    "delivery_receipt": N_("delivery receipt"),
    # roles of the dashboard's users
    "viewer": N_("viewer"),
    "operator": N_("operator"),
    "caseworker": N_("caseworker"),
    # the scorecard's sections (bus.domain.scorecard.Section)
    "state": N_("state authorities"),
    "shelter": N_("shelters"),
    "federal": N_("federal units"),
    # refusals of the bus, a presumed aggressor named or lifted, an agenda's instruments
    "no_consent": N_("no consent recorded"),
    "presumed_aggressor": N_("addressed to a presumed aggressor"),
    "undeliverable": N_("the bus could not record it"),
    "set": N_("named"),
    "lifted": N_("lifted"),
    MECHANISM_INSTRUMENT: N_("Mechanism"),
    "CIDH": N_("IACHR"),  # an IACHR precautionary measure's instrument: "CIDH MC-123-24"
    # each message type ("family.name"), as the case timeline calls it
    **KINDS,
}
