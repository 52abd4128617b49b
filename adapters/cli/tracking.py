"""What the ledger says, for people and for scripts: requests, pending, commitments, a case's
timeline and agenda, the scorecard, shelters' capacity and the monthly report."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.cli import common
from adapters.cli.common import Listing, console, listing
from adapters.cli.options import (
    AllOpt,
    HomeOpt,
    JsonOpt,
    LedgerOpt,
    LimitOpt,
    MaxAgeOpt,
    OffsetOpt,
)
from adapters.i18n import N_, _
from adapters.output import Column
from adapters.paging import PAGE_ROWS
from adapters.readmodel import columns as cols


def requests(
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
    limit: LimitOpt = PAGE_ROWS,
    offset: OffsetOpt = 0,
    every: AllOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """List the ledger's requests, newest first, one row per recipient."""
    from adapters.readmodel.requests import request_lines
    from adapters.readmodel.terminal import requests_table

    page = common.page(limit, offset, every)
    fetched = common.query(
        common.settings(home, ledger_url=ledger_url),
        lambda session: request_lines(session, limit=page.fetch, offset=page.offset),
    )
    lines, cut = page.cut(fetched)
    more = page.more(len(lines)) if cut else None
    if as_json:
        if more:
            print(more, file=sys.stderr)
        for line in lines:
            print(json.dumps(line.as_json(), ensure_ascii=False))
        return
    table = requests_table(lines)
    if more:
        table.caption = f"{table.caption}; {more}"
    console.print(table)


@listing
def pending(
    state: Annotated[str | None, typer.Option(help="State code, e.g. GRO.")] = None,
    agency: Annotated[str | None, typer.Option(help="Agency id, e.g. gro.government.")] = None,
    kind: Annotated[str | None, typer.Option(help="Request kind, e.g. protection_measure.")] = None,
    urgency: Annotated[str | None, typer.Option(help="urgent or ordinary.")] = None,
    *,
    view: Listing,
) -> None:
    """Requests nobody has acknowledged or answered, most overdue first."""
    from adapters.readmodel.requests import Filters, pending

    now, page = datetime.now(UTC), view.page
    filters = Filters(state, agency, kind, urgency)
    rows = view.query(lambda session: pending(session, now, filters, page.fetch, page.offset))
    view.show(
        rows,
        cols.PENDING_CLI,
        _("Unanswered requests, most overdue first"),
        _("Overdue below zero: still within the deadline"),
    )


@listing
def commitments(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only those past due.")] = False,
    agency: Annotated[str | None, typer.Option(help="Agency id.")] = None,
    state: Annotated[str | None, typer.Option(help="State code.")] = None,
    *,
    view: Listing,
) -> None:
    """Open commitments (actions agencies committed to), earliest due first."""
    from adapters.readmodel.commitments import commitments

    page = view.page
    rows = view.query(
        lambda session: commitments(
            session,
            datetime.now(UTC),
            overdue_only=overdue,
            agency=agency,
            state=state,
            limit=page.fetch,
            offset=page.offset,
        ),
    )
    title = _("Overdue commitments") if overdue else _("Open commitments")
    view.show(rows, cols.COMMITMENTS_CLI, title)


@listing
def case(
    ref: Annotated[str, typer.Argument(help="Case reference, e.g. MPDDHP-2026-0412.")],
    personal: Annotated[
        bool, typer.Option("--personal", help="Also show the people's details (federal staff).")
    ] = False,
    *,
    view: Listing,
) -> None:
    """One case's timeline across all agencies."""
    from adapters.readmodel.cases import case_timeline
    from adapters.service import compose

    page = view.page
    ledger = compose.open_ledger(view.settings())
    try:
        with ledger.session() as session:
            rows = case_timeline(session, ref, page.fetch, page.offset)
        details = (
            {(e.source, e.message_id): ledger.personal(e.message_id, e.source) for e in rows}
            if personal
            else {}
        )
    finally:
        ledger.close()
    columns = list(cols.TIMELINE_CLI)
    if personal:  # opened from the sealed store, for this view only; never logged
        names = Column(
            "personal", lambda r: _names(details.get((r.source, r.message_id))), N_("People")
        )
        columns.append(names)
    view.show(rows, columns, _("Case {ref}").format(ref=ref))


def _names(personal: Any) -> str:
    people = personal if isinstance(personal, list) else [personal] if personal else []
    return "; ".join(str(p.get("full_name", "")) for p in people if isinstance(p, dict))


# Sorting by attendance sorts by its share, not by the "attended/summoned" text shown.
SORT_KEYS = {c.key: c.get for c in cols.SCORECARD} | {
    "summons_attended": lambda s: s.summons_attended_pct
}


@listing
def scorecard(
    month: Annotated[str | None, typer.Option(help="YYYY-MM; default: all time.")] = None,
    sort: Annotated[
        str, typer.Option(help="Column to sort by (worst first for figures).")
    ] = "open_overdue",
    *,
    view: Listing,
) -> None:
    """Joint responsibility per state: how each state answers the Mechanism."""
    names = list(SORT_KEYS)
    if sort not in names:
        said = _("--sort must be one of: {names}").format(names=", ".join(names))
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2)
    from adapters.readmodel.scorecard import state_scores

    since, asof = common.month_window(month)
    scores = view.query(lambda session: state_scores(session, asof=asof, since=since))
    # Worst first: lowest percentages, most hours, most overdue; states alphabetically.
    key = SORT_KEYS[sort]
    known = sorted(
        (x for x in scores if key(x) is not None),
        key=key,
        reverse=sort in ("received", "median_hours_to_ack", "open_overdue"),
    )
    scores = known + [x for x in scores if key(x) is None]
    view.show(
        scores[view.page.offset :],
        cols.SCORECARD_CLI,
        _("Joint responsibility by state ({period})").format(period=month or _("all time")),
    )
    if not (view.as_json or view.as_csv):  # scripts: `mechbus federal scorecard --json`
        from adapters.readmodel.federal import federal_scores

        units = view.query(lambda session: federal_scores(session, asof=asof, since=since))
        view.show(units, cols.FEDERAL_SCORES_CLI, _("The Mechanism's own clocks by unit"))


@listing
def agenda(
    ref: Annotated[str, typer.Argument(help="Case reference.")],
    *,
    view: Listing,
) -> None:
    """One implementation agenda for a case: the Mechanism's and the IACHR's open items."""
    from adapters.readmodel.cases import case_agenda
    from adapters.readmodel.iachr import LINKED_CLI, case_measures

    now = datetime.now(UTC)
    items, measures = view.query(
        lambda session: (case_agenda(session, ref, now), case_measures(session, ref, now))
    )
    if measures and not (view.as_json or view.as_csv):  # programs read the items alone
        title = _(
            "IACHR precautionary measures of {ref} (days counted from the SRE's notice)"
        ).format(ref=ref)
        common.show(measures, LINKED_CLI, False, False, title)
    title = _("Implementation agenda for {ref}").format(ref=ref)
    view.show(items[view.page.offset :], cols.AGENDA_CLI, title)


def report(
    month: Annotated[str, typer.Option(help="The month to report, YYYY-MM.")],
    out: Annotated[Path, typer.Option(help="Directory for the Markdown and the chart.")] = Path(
        "."
    ),
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """The monthly joint-responsibility report (Markdown with an SVG chart)."""
    from adapters.readmodel.report import month_bounds, write_report

    try:
        month_bounds(month)  # a mistyped month is refused before any ledger is opened
        written = common.query(
            common.settings(home, ledger_url=ledger_url),
            lambda session: write_report(session, month, out, datetime.now(UTC)),
        )
    except ValueError as exc:
        raise common.fail(exc) from None
    console.print(
        _("wrote {markdown} and {chart}").format(markdown=written.markdown, chart=written.chart)
    )


@listing
def shelters(
    max_age_hours: MaxAgeOpt = 24.0,
    *,
    view: Listing,
) -> None:
    """Each shelter's current capacity (stale reports marked as such)."""
    from adapters.readmodel.placements import shelters

    now, max_age = datetime.now(UTC), timedelta(hours=max_age_hours)
    page = view.page
    rows = view.query(lambda session: shelters(session, page.fetch, page.offset))
    stale = Column(
        "stale", lambda c: "STALE" if c.stale(now, max_age) else "", N_("Stale"), cols.code_word
    )
    columns = [*cols.SHELTERS_CLI, stale]
    caption = _("stale: reported more than {hours:g} h ago").format(hours=max_age_hours)
    view.show(rows, columns, _("Shelter capacity"), caption)
