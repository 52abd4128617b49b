"""What the ledger says, for people and for scripts: requests, pending, commitments, a case's
timeline and agenda, the scorecard, shelters' capacity and the monthly report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from adapters.cli import common
from adapters.cli.common import Listing, console, listing
from adapters.cli.options import (
    HomeOpt,
    LedgerOpt,
    MaxAgeOpt,
)
from adapters.i18n import N_, _
from adapters.output import Column
from adapters.readmodel import columns as cols
from adapters.readmodel.figure_columns import (
    FEDERAL_SCORES_CLI,
    SCORECARD,
    SCORECARD_AGENCIES_CLI,
    SCORECARD_CLI,
    SCORECARD_DATA_CLI,
    SHELTERS_CLI,
)
from adapters.readmodel.record_columns import (
    AGENDA_CLI,
    COMMITMENTS_CLI,
    PENDING_CLI,
    PENDING_DATA,
    REQUESTS_DATA,
    TIMELINE_CLI,
)

if TYPE_CHECKING:
    from sqlmodel import Session


@listing
def requests(*, view: Listing) -> None:
    """List the ledger's requests, newest first, one row per recipient."""
    from adapters.readmodel.requests import request_lines
    from adapters.readmodel.terminal import requests_table

    page = view.page
    fetched = view.query(
        lambda session: request_lines(session, limit=page.fetch, offset=page.offset)
    )
    if view.as_json or view.as_csv:  # every field of each line
        view.show(fetched, REQUESTS_DATA, _("Requests"))
        return
    lines, cut = page.cut(fetched)
    table = requests_table(lines)
    if cut:
        table.caption = f"{table.caption}; {page.more(len(lines))}"
    console.print(table)


@listing
def pending(
    state: Annotated[
        str | None, typer.Option(help="State: its code or its name, e.g. GRO or Guerrero.")
    ] = None,
    agency: Annotated[str | None, typer.Option(help="Agency id, e.g. gro.government.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="Request kind, e.g. protection_measure or 'medida de protección'."),
    ] = None,
    urgency: Annotated[
        str | None, typer.Option(help="urgent or ordinary (urgente, ordinaria).")
    ] = None,
    *,
    view: Listing,
) -> None:
    """Requests nobody has acknowledged or answered, most overdue first, with how far up the
    escalation ladder each went (the last step sent, when) and the next step with its time."""
    from adapters.readmodel import references as refs
    from adapters.readmodel.requests import Filters, pending

    now, page = datetime.now(UTC), view.page
    filters = Filters(
        common.resolved("--state", state, refs.state),
        common.resolved("--agency", agency, refs.agency),
        common.resolved("--kind", kind, refs.kind),
        common.resolved("--urgency", urgency, refs.urgency),
    )
    ladder = common.policy(None)  # MECHBUS_POLICY's, as the sweeper climbs it
    rows = view.query(
        lambda session: pending(session, now, filters, page.fetch, page.offset, policy=ladder)
    )
    view.show(
        rows,
        PENDING_DATA if view.as_json or view.as_csv else PENDING_CLI,
        _("Unanswered requests, most overdue first"),
        _("Overdue below zero: still within the deadline"),
    )


@listing
def commitments(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only those past due.")] = False,
    agency: Annotated[str | None, typer.Option(help="Agency id.")] = None,
    state: Annotated[str | None, typer.Option(help="State: its code or its name.")] = None,
    *,
    view: Listing,
) -> None:
    """Open commitments (actions agencies committed to), earliest due first."""
    from adapters.readmodel import references as refs
    from adapters.readmodel.commitments import commitments

    page = view.page
    agency = common.resolved("--agency", agency, refs.agency)
    state = common.resolved("--state", state, refs.state)
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
    view.show(rows, COMMITMENTS_CLI, title)


@listing
def case(
    ref: Annotated[str, typer.Argument(help="Case reference, e.g. MPDDHP-2026-0412.")],
    personal: Annotated[
        bool, typer.Option("--personal", help="Also show the people's details (federal staff).")
    ] = False,
    print_to: Annotated[
        Path | None,
        typer.Option(
            "--print",
            help="Write the case file to print and sign (HTML, no personal data) to this file.",
        ),
    ] = None,
    pdf: Annotated[
        Path | None,
        typer.Option(
            "--pdf", help="The same case file as a PDF with numbered pages (needs Chromium)."
        ),
    ] = None,
    *,
    view: Listing,
) -> None:
    """One case's timeline across all agencies."""
    from adapters.readmodel.cases import case_timeline
    from adapters.readmodel.references import case_of

    ref = _case_ref(ref)
    if print_to is not None or pdf is not None:
        _print_case_file(view, ref, print_to, pdf)
        return

    page = view.page
    with common.reading(view.settings()) as ledger:
        with ledger.session() as session, common.checked():
            ref = case_of(session, ref)
            rows = case_timeline(session, ref, page.fetch, page.offset)
        details: dict[tuple[str, str], Any] = {}
        if personal:
            from adapters.cli.search import record

            details = {
                (e.source, e.message_id): ledger.personal(e.message_id, e.source) for e in rows
            }
            # recorded before anything is shown: no record, no details
            record(ledger, "case_personal", [ref], sum(1 for d in details.values() if d))
    columns = list(TIMELINE_CLI)
    if personal:  # opened from the sealed store, for this view only; never logged
        names = Column(
            "personal", lambda r: _names(details.get((r.source, r.message_id))), N_("People")
        )
        columns.append(names)
    view.show(rows, columns, _("Case {ref}").format(ref=ref))


def _print_case_file(view: Listing, ref: str, path: Path | None, pdf: Path | None) -> None:
    from adapters import i18n
    from adapters.dashboard.app import templates
    from adapters.dashboard.casefile import (
        NoPdfPrinter,
        print_pdf,
        read_case_file,
        render_case_file,
    )
    from adapters.i18n import _

    now = datetime.now(UTC)
    case_file = view.query(lambda session: read_case_file(session, ref, now))
    if not case_file.events:
        message = _("No message has the case reference %s.") % ref
        console.print(f"[red]{message}[/]")
        raise typer.Exit(2)
    html = render_case_file(templates(), case_file, i18n.current(), standalone=True)
    if path is not None:
        path.write_text(html, encoding="utf-8")
        console.print(_("Case file written to %s") % path)
    if pdf is not None:
        try:
            print_pdf(html, pdf.resolve())
        except NoPdfPrinter as exc:
            raise common.fail(exc, 1) from None
        console.print(_("Case file written to %s") % pdf)


def _case_ref(value: str) -> str:
    """The case number in its canonical form (exit 2 when it cannot be one), checked before
    the ledger is opened."""
    from adapters.readmodel.references import case_number

    found = common.resolved("CASE", value, case_number)
    assert found is not None
    return found


def _names(personal: Any) -> str:
    people = personal if isinstance(personal, list) else [personal] if personal else []
    return "; ".join(str(p.get("full_name", "")) for p in people if isinstance(p, dict))


# Sorting by attendance sorts by its share, not by the "attended/summoned" text shown.
SORT_KEYS = {c.key: c.get for c in SCORECARD} | {
    "summons_attended": lambda s: s.summons_attended_pct
}


SECTIONS = ("state", "shelter", "federal")  # bus.domain.scorecard.Section


@listing
def scorecard(
    month: Annotated[str | None, typer.Option(help="YYYY-MM; default: all time.")] = None,
    sort: Annotated[
        str, typer.Option(help="Column to sort by (worst first for figures).")
    ] = "open_overdue",
    section: Annotated[
        str | None,
        typer.Option(help="Only one section: state, shelter or federal; default: all three."),
    ] = None,
    *,
    view: Listing,
) -> None:
    """Joint responsibility: each state's authorities, then each shelter and each federal unit."""
    from adapters.i18n import gettext as _

    names = list(SORT_KEYS)
    if sort not in names:
        said = _("--sort must be one of: {names}").format(names=", ".join(names))
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2)
    if section is not None and section not in SECTIONS:
        message = _("--section must be one of: %(valid)s") % {"valid": ", ".join(SECTIONS)}
        raise common.fail(ValueError(message))
    from adapters.readmodel.scorecard import state_scores

    since, asof = common.month_window(month)
    scores = view.query(lambda session: state_scores(session, asof=asof, since=since))
    # Worst first: lowest percentages, most hours, most overdue; states alphabetically.
    key = SORT_KEYS[sort]

    def worst_first(rows: list[Any]) -> list[Any]:
        known = sorted(
            (x for x in rows if key(x) is not None),
            key=key,
            reverse=sort in ("received", "median_hours_to_ack", "open_overdue"),
        )
        return known + [x for x in rows if key(x) is None]

    chosen = [section] if section else list(SECTIONS)
    parts = {s: worst_first([x for x in scores if x.section.value == s]) for s in chosen}
    if view.as_json or view.as_csv:  # one file, every row naming its section
        rows = [x for s in chosen for x in parts[s]]
        view.show(rows[view.page.offset :], SCORECARD_DATA_CLI, "")
        return
    titles = {
        "state": _("Joint responsibility by state (%(period)s)"),
        "shelter": _("Shelters (%(period)s)"),
        "federal": _("Federal units as recipients (%(period)s)"),
    }
    period = month or _("all time")
    for name in chosen:
        if name != "state" and not parts[name]:
            continue  # a section nobody is in is left out; the states' table always shows
        columns = SCORECARD_CLI if name == "state" else SCORECARD_AGENCIES_CLI
        view.show(parts[name][view.page.offset :], columns, titles[name] % {"period": period})
    if section is None:
        from adapters.readmodel.federal import federal_scores

        units = view.query(lambda session: federal_scores(session, asof=asof, since=since))
        view.show(units, FEDERAL_SCORES_CLI, _("The Mechanism's own clocks by unit"))


@listing
def agenda(
    ref: Annotated[str, typer.Argument(help="Case reference.")],
    *,
    view: Listing,
) -> None:
    """One implementation agenda for a case: the Mechanism's and the IACHR's open items."""
    from adapters.readmodel.cases import case_agenda
    from adapters.readmodel.iachr import LINKED_CLI, case_measures
    from adapters.readmodel.references import case_of

    now, ref = datetime.now(UTC), _case_ref(ref)

    def read(session: Session) -> tuple[str, list[Any], list[Any]]:
        case = case_of(session, ref)  # or a request's id, for its case
        return case, case_agenda(session, case, now), case_measures(session, case, now)

    ref, items, measures = view.query(read)
    if measures and not (view.as_json or view.as_csv):  # programs read the items alone
        title = _(
            "IACHR precautionary measures of {ref} (days counted from the SRE's notice)"
        ).format(ref=ref)
        common.show(measures, LINKED_CLI, False, False, title)
    title = _("Implementation agenda for {ref}").format(ref=ref)
    view.show(items[view.page.offset :], AGENDA_CLI, title)


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
    """Each shelter's current capacity (stale reports marked as such; a shelter that never
    reported is listed as such)."""
    from adapters.i18n import gettext as _
    from adapters.readmodel.placements import shelter_roster

    now, max_age = datetime.now(UTC), timedelta(hours=max_age_hours)
    page = view.page
    rows = view.query(lambda session: shelter_roster(session, page.fetch, page.offset))
    stale = Column(
        "stale", lambda c: "STALE" if c.stale(now, max_age) else "", N_("Stale"), cols.code_word
    )
    columns = [*SHELTERS_CLI, stale]  # a shelter never reported: "sin reporte" (no_report)
    caption = _("stale: reported more than {hours:g} h ago").format(hours=max_age_hours)
    view.show(rows, columns, _("Shelter capacity"), caption)
