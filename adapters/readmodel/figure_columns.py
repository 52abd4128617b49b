"""The columns of figures: the scorecard (states, shelters and federal units), the shelters'
spaces, and the Mechanism's own obligations with each unit's score. What a column is made of,
and the codes in words: ``columns``."""

from __future__ import annotations

from typing import Any

from adapters.readmodel.columns import N_, Col, pick, table, terminal
from adapters.readmodel.names import institution, institution_or_none

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


def _attended(score: Any) -> str:
    return f"{score.summons_attended}/{score.summons}"


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
