"""Each table's columns, defined once: the key (the field of the command line's JSON), the
label (the header people read on the page, in the terminal and in the CSV files, translated),
the getter and how the page shows it. Codes are shown in words, through one table (``CODES``).
The dashboard and the command line each pick the columns they show, in their own order."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.i18n import N_ as N_  # the tables' modules mark their labels with it
from adapters.i18n import gettext, local_iso
from adapters.output import Column, Named, write_csv
from adapters.readmodel.names import institution, institution_or_none
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


def _rung_at(rung: str | None, at: datetime | None) -> str | None:
    """A rung in words and when (Mexico City time), or None when there is none."""
    if rung is None:
        return None
    when = f" ({local_iso(at)[:16].replace('T', ' ')})" if at is not None else ""
    return f"{code_word(rung)}{when}"


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


PENDING_COLUMNS = table(
    Col("overdue_hours", N_("Overdue"), lambda r: r.overdue_hours, "overdue", lambda r: r.due_at),
    Col("request", N_("Request"), lambda r: r.request_id, "request"),
    Col("case", N_("Case"), lambda r: r.case_ref, "case"),
    Col("kind", N_("Kind"), lambda r: r.kind, "code"),
    Col("urgency", N_("Urgency"), lambda r: r.urgency, "code"),
    Col("agency", N_("Agency"), lambda r: institution(r.agency)),
    Col("state", N_("State"), lambda r: r.state),
    Col("status", N_("Status"), lambda r: r.status, "code"),
    Col("owes", N_("Owes"), lambda r: r.owed, "code"),
    Col("sent", N_("Sent"), lambda r: r.sent_at, "time"),
    Col("due", N_("Due"), lambda r: r.due_at, "time"),
    # how far up the escalation ladder it went, and the next rung with its time
    Col("last_rung", N_("Last step sent"), lambda r: r.last_rung, "code"),
    Col("last_rung_at", N_("Sent on"), lambda r: r.last_rung_at, "time"),
    Col("next_rung", N_("Next step"), lambda r: r.next_rung, "code"),
    Col("next_rung_at", N_("Next step due"), lambda r: r.next_rung_at, "time"),
)
_RUNG_KEYS = ("last_rung", "last_rung_at", "next_rung", "next_rung_at")
PENDING = pick(
    PENDING_COLUMNS,
    *("overdue_hours", "case", "kind", "urgency", "agency", "state", "status", "owes"),
    *("sent", "due", "request", *_RUNG_KEYS),
)
PENDING_DATA = terminal(  # --json and --csv
    PENDING_COLUMNS,
    *("request", "case", "kind", "urgency", "agency", "status", "owes", "due", "overdue_hours"),
    *_RUNG_KEYS,
)
# The terminal's table is narrow (120 columns off a terminal): each rung with its time in one
# column, the request by the end of its id (what `case` and `send` take), no status or due time.
PENDING_CLI = terminal(
    PENDING_COLUMNS,
    *("request", "case", "kind", "urgency", "agency", "owes", "overdue_hours"),
    *("last_rung", "next_rung"),
    request=lambda r: r.request_id[-8:],
    last_rung=lambda r: _rung_at(r.last_rung, r.last_rung_at),
    next_rung=lambda r: _rung_at(r.next_rung, r.next_rung_at),
)

# `mechbus requests --json|--csv`: every field of a request's line, one row per recipient
REQUESTS_DATA = terminal(
    table(
        Col("request_id", N_("Request"), lambda r: r.request_id),
        Col("kind", N_("Kind"), lambda r: r.kind, "code"),
        Col("case_ref", N_("Case"), lambda r: r.case_ref),
        Col("urgency", N_("Urgency"), lambda r: r.urgency, "code"),
        Col("recipient", N_("Agency"), lambda r: institution(r.recipient)),
        Col("status", N_("Status"), lambda r: r.status, "code"),
        Col("sent_at", N_("Sent"), lambda r: r.sent_at, "time"),
        Col("delivered_at", N_("Delivered at"), lambda r: r.delivered_at, "time"),
        Col("acknowledged_at", N_("Acknowledged at"), lambda r: r.acknowledged_at, "time"),
        Col("acknowledged_by", N_("Acknowledged by"), lambda r: r.acknowledged_by),
        Col("decided_at", N_("Answered at"), lambda r: r.decided_at, "time"),
        Col("closed_at", N_("Closed at"), lambda r: r.closed_at, "time"),
    ),
    *("request_id", "kind", "case_ref", "urgency", "recipient", "status", "sent_at"),
    *("delivered_at", "acknowledged_at", "acknowledged_by", "decided_at", "closed_at"),
)

COMMITMENTS_COLUMNS = table(
    Col("overdue_hours", N_("Overdue"), lambda r: r.overdue_hours, "overdue", lambda r: r.chased),
    Col("request", N_("Request"), lambda r: r.request_id, "request"),
    Col("case", N_("Case"), lambda r: r.case_ref, "case"),
    Col("agency", N_("Agency"), lambda r: institution(r.agency)),
    Col("commitment", N_("Commitment"), lambda r: r.commitment_id),
    Col("action", N_("Committed action"), lambda r: r.action),
    Col("due", N_("Due"), lambda r: r.due, "time"),
    Col("legal_limit", N_("Legal limit"), lambda r: r.legal_limit, "time"),
    Col("flag", N_("Flag"), lambda r: r.flag, "code"),
    Col("status", N_("Status"), lambda r: r.status, "code"),
)
_COMMITMENT_KEYS = ("due", "legal_limit", "flag", "status")
COMMITMENTS = pick(
    COMMITMENTS_COLUMNS,
    *("overdue_hours", "case", "agency", "action", "due", "status", "commitment"),
    *("legal_limit", "flag", "request"),
)
COMMITMENTS_CLI = terminal(
    COMMITMENTS_COLUMNS,
    *("request", "case", "agency", "commitment", "action", *_COMMITMENT_KEYS, "overdue_hours"),
)

SCORECARD = [
    Col("state", N_("State"), lambda s: s.state),
    Col("received", N_("Requests received"), lambda s: s.requests_received, "num"),
    Col("ack_on_time_pct", N_("Acknowledged on time"), lambda s: s.acknowledged_on_time_pct, "pct"),
    Col(
        "median_hours_to_ack",
        N_("Median hours to acknowledge"),
        lambda s: s.median_hours_to_acknowledge,
        "num",
    ),
    Col("kept_on_time_pct", N_("Commitments kept on time"), lambda s: s.kept_on_time_pct, "pct"),
    Col("open_overdue", N_("Open and overdue"), lambda s: s.open_overdue, "num"),
    Col("summons_attended", N_("Board summons attended"), lambda s: _attended(s)),
]
SCORECARD_CLI = terminal(table(*SCORECARD), *(c.key for c in SCORECARD))
# Shelters and federal units are scored on rows of their own (bus.domain.scorecard.Section):
# the page and the terminal show them in tables of their own, named by agency; the CSV and
# JSON files carry every row with its section.
SCORECARD_COLUMNS = table(
    *SCORECARD,
    Col("section", N_("Section"), lambda s: s.section.value, "code"),
    Col("agency", N_("Agency"), lambda s: institution_or_none(s.agency)),
)
SCORECARD_DATA = pick(SCORECARD_COLUMNS, *(c.key for c in SCORECARD), "section", "agency")
SCORECARD_AGENCIES = pick(SCORECARD_COLUMNS, "agency", *(c.key for c in SCORECARD))
SCORECARD_DATA_CLI = terminal(SCORECARD_COLUMNS, *(c.key for c in SCORECARD_DATA))
SCORECARD_AGENCIES_CLI = terminal(SCORECARD_COLUMNS, *(c.key for c in SCORECARD_AGENCIES))

TIMELINE_COLUMNS = table(
    Col("recorded", N_("Recorded"), lambda e: e.recorded_at, "time"),
    Col("from", N_("From"), lambda e: institution(e.source)),
    Col("to", N_("To"), lambda e: institution(e.to)),
    Col("message", N_("Message"), lambda e: Named(e.message, e.phrase)),
    Col("detail", N_("Detail"), lambda e: e.detail),
    Col("flag", N_("Flag"), lambda e: e.flag, "code"),
    Col("request", N_("Request"), lambda e: e.request_id, "request"),
)
TIMELINE = pick(TIMELINE_COLUMNS, "recorded", "from", "to", "message", "detail", "request", "flag")
TIMELINE_CLI = terminal(
    TIMELINE_COLUMNS,
    *("recorded", "from", "to", "message", "request", "detail", "flag"),
    request=lambda e: e.request_id[-8:],  # the terminal's table is narrow
)

AGENDA = [
    Col(
        "instruments",
        N_("Instruments"),
        lambda a: " + ".join(a.instruments),
        "codes",
        lambda a: a.instruments,
    ),
    Col("agency", N_("Agency"), lambda a: institution(a.agency)),
    Col("what", N_("What is owed"), lambda a: a.what, "code"),
    Col("due", N_("Due"), lambda a: a.due, "time"),
    Col("legal_limit", N_("Legal limit"), lambda a: a.legal_limit, "time"),
    Col("flag", N_("Flag"), lambda a: a.flag, "code"),
    Col("overdue", N_("Overdue"), lambda a: "OVERDUE" if a.overdue else "", "code"),
    Col("status", N_("Status"), lambda a: a.status, "code"),
    Col("request", N_("Request"), lambda a: a.request_id, "request"),
]
AGENDA_CLI = terminal(table(*AGENDA), *(c.key for c in AGENDA))

SHELTERS_COLUMNS = table(
    Col("shelter", N_("Shelter"), lambda c: institution(c.shelter)),
    Col("region", N_("Region"), lambda c: c.region),
    Col("free", N_("Free now"), lambda c: c.free_spaces, "num"),
    Col("total", N_("Total"), lambda c: c.total_spaces, "num"),
    Col("in_24h", N_("In 24 h"), lambda c: c.spaces_24h, "num"),
    Col("in_72h", N_("In 72 h"), lambda c: c.spaces_72h, "num"),
    Col("families", N_("Families"), lambda c: c.accepts_families, "code"),
    Col("children", N_("Children"), lambda c: c.accepts_children, "code"),
    Col("accessible", N_("Accessible"), lambda c: c.accessible, "code"),
    # shown on the command line only
    Col("security", N_("Security"), lambda c: c.security_level, "code"),
    Col("max_stay_days", N_("Longest stay (days)"), lambda c: c.max_stay_days, "num"),
    Col("reported", N_("Reported"), lambda c: c.reported_at, "time"),
    # "no_report" for a shelter that never reported its capacity (listed, not left out)
    Col("report", N_("Report"), lambda c: "no_report" if c.reported_at is None else None, "code"),
)
_SHELTER_KEYS = ("shelter", "region", "free", "total", "in_24h", "in_72h", "families", "children")
SHELTERS = pick(SHELTERS_COLUMNS, *_SHELTER_KEYS, "accessible", "reported", "report")
# the command line adds whether each report is stale, which depends on when it is asked
SHELTERS_CLI = terminal(
    SHELTERS_COLUMNS,
    *_SHELTER_KEYS,
    *("accessible", "security", "max_stay_days", "reported", "report"),
)

PLACEMENTS_COLUMNS = table(
    Col("request", N_("Request"), lambda p: p.request_id, "request"),
    Col("case", N_("Case"), lambda p: p.case_ref, "case"),
    Col("people", N_("People"), lambda p: p.people, "num"),
    Col("from_state", N_("From state"), lambda p: p.origin_state),
    Col("shelter", N_("Shelter"), lambda p: institution(p.shelter)),
    Col("status", N_("Status"), lambda p: p.status, "code"),
    Col("sent", N_("Sent"), lambda p: p.sent_at, "time"),
    Col("answered", N_("Answered"), lambda p: p.answered_at, "time"),
)
_PLACEMENT_KEYS = ("case", "people", "from_state", "shelter", "status", "sent", "answered")
PLACEMENTS = pick(PLACEMENTS_COLUMNS, *_PLACEMENT_KEYS, "request")
PLACEMENTS_CLI = terminal(PLACEMENTS_COLUMNS, "request", *_PLACEMENT_KEYS)

BOARD_COLUMNS = table(
    Col("session", N_("Session"), lambda a: a.session_id),
    Col("case", N_("Case"), lambda a: a.case_ref, "case"),
    Col("state", N_("State"), lambda a: a.state),
    Col("institution", N_("Institution"), lambda a: institution(a.agency)),
    Col("invited", N_("Official invited"), lambda a: a.invited),
    Col("consent", N_("Consent"), lambda a: a.consent, "code"),
    Col("owes", N_("Owes"), lambda a: a.owed, "code"),
    Col(
        "overdue_hours",
        N_("Overdue"),
        lambda a: a.overdue_hours,
        "overdue",
        lambda a: a.due_at if a.overdue_hours is not None else None,
    ),
    Col("carried_from", N_("Carried over from"), lambda a: a.carried_from),
    Col("due", N_("Due"), lambda a: a.due_at, "time"),
    Col("placed", N_("Placed on the agenda"), lambda a: a.placed_at, "time"),
    Col("request", N_("Request"), lambda a: a.request_id, "request"),
)
BOARD = pick(
    BOARD_COLUMNS,
    *("session", "case", "state", "institution", "invited", "consent", "owes"),
    *("overdue_hours", "carried_from", "placed", "request"),
)
# The terminal's table is narrow (120 columns off a terminal): a state institution's name
# names its state, and the official invited is its head ("Titular de la" and the institution),
# so the table leaves out those two columns (--json and --csv have them).
BOARD_CLI = terminal(
    BOARD_COLUMNS,
    *("session", "case", "institution", "consent", "owes", "overdue_hours", "carried_from"),
    session=lambda a: a.session_id or gettext("(not yet scheduled)"),
    consent=lambda a: bool(a.consent),  # a code: "yes" or "no"
)
BOARD_DATA = terminal(  # --json and --csv
    BOARD_COLUMNS,
    *("session", "case", "state", "institution", "invited", "consent", "owes"),
    *("overdue_hours", "carried_from", "due", "placed", "request"),
)

DEAD_LETTERS_COLUMNS = table(
    Col("id", N_("Number"), lambda d: d.id, "num"),
    Col("received", N_("Received"), lambda d: d.received_at, "time"),
    Col("sender", N_("Sender"), lambda d: institution_or_none(d.sender)),
    Col("reason", N_("Reason"), lambda d: d.reason, "code"),
    Col("subject", N_("Subject"), lambda d: d.nats_subject),
    Col("message", N_("Message"), lambda d: d.message_id),
    Col("detail", N_("Detail"), lambda d: d.detail),
)
DEAD_LETTERS = pick(DEAD_LETTERS_COLUMNS, "id", "received", "sender", "reason", "subject", "detail")
DEAD_LETTERS_CLI = terminal(
    DEAD_LETTERS_COLUMNS,
    *("id", "received", "sender", "reason", "subject", "message", "detail"),
)

# the outbox is shown on the command line only
OUTBOX_CLI = terminal(
    table(
        Col("message", N_("Message"), lambda w: w.message_id),
        Col("type", N_("Type"), lambda w: w.type, "code"),
        Col("source", N_("From"), lambda w: institution(w.source)),
        Col("kept", N_("Kept"), lambda w: w.created_at, "time"),
        Col("attempts", N_("Attempts"), lambda w: w.attempts, "num"),
        Col("last error", N_("Last error"), lambda w: w.last_error),
    ),
    *("message", "type", "source", "kept", "attempts", "last error"),
)


def _attended(score: Any) -> str:
    return f"{score.summons_attended}/{score.summons}"


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


# The Mechanism's own obligations (adapters.readmodel.federal): open ones, and per unit.
FEDERAL_COLUMNS = table(
    Col("overdue_hours", N_("Overdue"), lambda r: r.overdue_hours, "overdue", lambda r: r.due_at),
    Col("case", N_("Case"), lambda r: r.case_ref, "case"),
    Col("clock", N_("Clock"), lambda r: r.clock, "code"),
    Col("unit", N_("Unit"), lambda r: r.unit),
    Col("urgency", N_("Urgency"), lambda r: r.urgency, "code"),
    Col("basis", N_("Basis"), lambda r: r.basis),
    Col("decision", N_("Board decision"), lambda r: r.decision_id),
    Col("started", N_("Started"), lambda r: r.started_at, "time"),
    Col("due", N_("Due"), lambda r: r.due_at, "time"),
    Col("met", N_("Met"), lambda r: r.met_at, "time"),
    Col("standing", N_("Standing"), lambda r: r.standing, "code"),
)
FEDERAL_CLI = terminal(
    FEDERAL_COLUMNS,
    *("case", "clock", "unit", "urgency", "basis", "started", "due", "met", "overdue_hours"),
)
FEDERAL_SCORES = [
    Col("unit", N_("Unit"), lambda u: u.name),
    Col("started", N_("Obligations started"), lambda u: u.score.started, "num"),
    Col("on_time", N_("Met on time"), lambda u: u.score.on_time, "num"),
    Col("late", N_("Met late"), lambda u: u.score.late, "num"),
    Col("open", N_("Still open"), lambda u: u.score.open, "num"),
    Col("overdue", N_("Open and overdue"), lambda u: u.score.overdue, "num"),
    Col(
        "median_hours_to_meet",
        N_("Median hours to meet"),
        lambda u: u.score.median_hours_to_meet,
        "num",
    ),
]
FEDERAL_SCORES_CLI = terminal(table(*FEDERAL_SCORES), *(c.key for c in FEDERAL_SCORES))
