"""``mechbus search``: requests by part of a case number, by words of what was asked or
answered, or by institution; ``--person`` finds where a person appears through the blind
index, recorded in ``personal_access`` before anything is shown. Also ``mechbus audit access``
(that record) and ``mechbus db reindex-people`` (the index for messages recorded before)."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from adapters.cli import common
from adapters.cli.common import Listing, console, listing
from adapters.cli.options import HomeOpt, LedgerOpt

if TYPE_CHECKING:
    from adapters.ledger.store import SqlLedger

# At the command line the deployment's key is at hand: whoever runs it acts as an operator.
CLI_ROLE = "operator"


def operator() -> str:
    """Who is at the command line, as the record names them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"uid {os.getuid()}"


def record(ledger: SqlLedger, action: str, case_refs: list[str | None], matches: int) -> None:
    """Write who at the command line sought or saw people's details, before they are shown."""
    from adapters.ledger.access_log import PersonalAccess, record_access

    refs = tuple(ref for ref in case_refs if ref)
    access = PersonalAccess(operator(), CLI_ROLE, "cli", action, refs, matches)
    record_access(ledger, access, datetime.now(UTC))


@listing
def search(
    text: Annotated[
        str | None,
        typer.Argument(help="Part of a case number, words of a request, or an institution."),
    ] = None,
    person: Annotated[
        str | None,
        typer.Option(
            "--person",
            help="A person's name or surname: the cases and requests where they appear "
            "(recorded in the access log).",
        ),
    ] = None,
    *,
    view: Listing,
) -> None:
    """Find requests by case number (or part of it), by what they ask, or by institution."""
    from adapters.i18n import _

    if (text is None) == (person is None):
        raise common.fail(ValueError(_("Give either TEXT or --person NAME (one of the two).")))
    if person is not None:
        _person_search(person, view)
        return
    assert text is not None
    from adapters.readmodel.search import SEARCH_CLI
    from adapters.readmodel.search import search as find

    if not text.strip():
        raise common.fail(ValueError(_("Give something to search for.")))
    page = view.page
    rows = view.query(lambda session: find(session, text, page.fetch, page.offset))
    if not rows:
        _nothing(view, _("Nothing found for “%(query)s”.") % {"query": text})
        return
    view.show(rows, SEARCH_CLI, _("Requests found for “%(query)s”") % {"query": text})


def _nothing(view: Listing, said: str) -> None:
    """An empty result, in words (a program reading JSON or CSV gets it on stderr)."""
    if view.as_json or view.as_csv:
        print(said, file=sys.stderr)
    else:
        console.print(said, markup=False)


def _person_search(name: str, view: Listing) -> None:
    from adapters.i18n import N_, _
    from adapters.ledger.people import tokens_for
    from adapters.output import Column
    from adapters.readmodel.search import SEARCH_CLI, person_hits, person_lines, places
    from adapters.service import compose
    from bus.domain.personal import name_at

    ledger = compose.open_ledger(view.settings())
    try:
        whole, words = tokens_for(ledger.sealer, name)
        if whole is None:
            raise common.fail(ValueError(_("--person needs a name with letters in it.")))
        page = view.page
        with ledger.session() as session:
            hits = person_hits(session, whole, words)
            found = person_lines(session, hits, page.fetch, page.offset)
        # The record comes first: if it cannot be written, nothing is shown.
        cases, matches = places(hits)
        record(ledger, "person_search", list(cases), matches)
        names = {
            hit: name_at(ledger.personal(hit.message_id, hit.source), hit.person)
            for _line, hit in found
        }
    finally:
        ledger.close()
    if not found:
        _nothing(view, _("Nobody of that name appears in the ledger."))
        return
    rows = [line for line, _hit in found]
    people = {id(line): names.get(hit, "") for line, hit in found}
    person = Column("person", lambda r: people.get(id(r), ""), N_("Person"))
    columns = [*SEARCH_CLI, person]
    view.show(rows, columns, _("Where the person searched for appears"))


@listing
def audit_access(
    since: Annotated[
        str | None,
        typer.Option(help="From this date or time on (ISO 8601, e.g. 2026-11-01)."),
    ] = None,
    *,
    view: Listing,
) -> None:
    """Who searched for a person or opened people's details: when, how, on which cases."""
    from adapters.i18n import _
    from adapters.ledger.access_log import accesses
    from adapters.service import compose

    start = _since(since) if since else None
    ledger = compose.open_ledger(view.settings())
    try:
        rows = list(accesses(ledger, start))
    finally:
        ledger.close()
    if not rows:
        _nothing(view, _("No one has sought or seen people's details in this period."))
        return
    columns: list[tuple[str, Any]] = [
        ("at", lambda r: r.at),
        ("actor", lambda r: r.actor),
        ("role", lambda r: r.role),
        ("channel", lambda r: r.channel),
        ("action", lambda r: r.action),
        ("cases", lambda r: r.case_refs),
        ("matches", lambda r: r.matches),
    ]
    view.show(rows[view.page.offset :], columns, _("Access to people's details"))


def _since(value: str) -> datetime:
    from adapters.i18n import _

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise common.fail(
            ValueError(
                _("--since: %(value)s is not a date such as 2026-11-01 or 2026-11-01T09:00-06:00")
                % {"value": repr(value)}
            )
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def reindex_people(home: HomeOpt = None, ledger_url: LedgerOpt = None) -> None:
    """Rebuild the search indexes (people's blind index, requests' text) from every recorded
    message: for a ledger recorded before they existed. Needs the deployment's key."""
    from adapters.i18n import _
    from adapters.ledger.people import reindex

    # A hub recording meanwhile would index its new messages twice: one or the other.
    done = common.with_the_hub_stopped(
        home, ledger_url, lambda ledger, session: reindex(session, ledger.sealer)
    )
    console.print(
        _("%(messages)d messages indexed: %(people)d people named, %(texts)d with searchable text.")
        % {"messages": done.messages, "people": done.people, "texts": done.texts}
    )
