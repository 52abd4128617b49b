"""The columns of the record's own rows: requests and what is owed on them (unanswered
requests, commitments, a case's agenda, the Board's agenda), a case's timeline, placements, and
the messages the bus refused (dead letters) or has yet to publish (the outbox). What a column is
made of, and the codes in words: ``columns``."""

from __future__ import annotations

from datetime import datetime

from adapters.i18n import gettext, local_iso
from adapters.output import Named
from adapters.readmodel.columns import N_, Col, code_word, pick, table, terminal
from adapters.readmodel.names import institution, institution_or_none


def _rung_at(rung: str | None, at: datetime | None) -> str | None:
    """A rung in words and when (Mexico City time), or None when there is none."""
    if rung is None:
        return None
    when = f" ({local_iso(at)[:16].replace('T', ' ')})" if at is not None else ""
    return f"{code_word(rung)}{when}"


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
