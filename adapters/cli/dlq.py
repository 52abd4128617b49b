"""``mechbus dlq``: dead letters, the bad input the hub kept with its reason."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.cli import common
from adapters.cli.common import Listing, console, listing
from adapters.cli.options import (
    HomeOpt,
    LedgerOpt,
    NatsOpt,
)
from adapters.i18n import _
from adapters.readmodel.columns import code_word
from adapters.readmodel.record_columns import DEAD_LETTERS_CLI

if TYPE_CHECKING:
    from adapters.ledger.tables import DeadLetterRow
    from adapters.settings import Settings

app = typer.Typer(help="Dead letters: bad input kept with its reason.", no_args_is_help=True)
DeadIdArg = Annotated[int, typer.Argument(help="The dead letter's id (see dlq list).")]


@app.command("list")
@listing
def dlq_list(
    reason: Annotated[str | None, typer.Option(help="Only this reason, e.g. schema.")] = None,
    sender: Annotated[str | None, typer.Option(help="Only from this agency.")] = None,
    *,
    view: Listing,
) -> None:
    """Dead letters, newest first (their bodies stay sealed)."""
    from adapters.readmodel import references as refs
    from adapters.readmodel.dead_letters import dead_letters

    page = view.page
    reason = common.resolved("--reason", reason, refs.refusal_reason)
    sender = common.resolved("--sender", sender, refs.agency)
    rows = view.query(
        lambda session: dead_letters(
            session, reason=reason, sender=sender, limit=page.fetch, offset=page.offset
        ),
    )
    view.show(rows, DEAD_LETTERS_CLI, _("Dead letters"))


def _dead_letter(settings: Settings, dead_id: int) -> tuple[DeadLetterRow, bytes]:
    from adapters.readmodel.dead_letters import dead_letter

    with common.reading(settings) as ledger:
        with ledger.session() as session:
            row = dead_letter(session, dead_id)
        if row is None:
            said = _("no dead letter {number}").format(number=dead_id)
            console.print(f"[red]{said}[/]")
            raise typer.Exit(2)
        return row, ledger.dead_letter_body(row)


@app.command("show")
def dlq_show(
    dead_id: DeadIdArg,
    raw: Annotated[
        bool, typer.Option("--raw", help="Also print the input as received (may be personal).")
    ] = False,
    home: HomeOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """One dead letter: why it was refused, field by field."""
    row, body = _dead_letter(common.settings(home, ledger_url=ledger_url), dead_id)
    said = _("dead letter {number}: {reason} from {sender} on {subject}")
    console.print(
        said.format(
            number=row.id,
            reason=code_word(row.reason),
            sender=row.sender or "?",
            subject=row.nats_subject,
        ),
        markup=False,
    )
    said = _("received {time} UTC, stream seq {seq}")
    console.print(said.format(time=f"{row.received_at:%Y-%m-%d %H:%M:%S}", seq=row.stream_seq))
    console.print(_("detail: {detail}").format(detail=row.detail), markup=False)
    for location, problem in json.loads(row.errors_json):
        console.print(f"  {location}: {problem}")
    if raw:
        print(body.decode("utf-8", errors="replace"))


@app.command("retry")
def dlq_retry(
    dead_id: DeadIdArg,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Put the input back on the bus as it was received, for the hub to judge again (after
    what made it wrong has changed, e.g. the acknowledgement that was missing has arrived)."""
    from adapters.service.actions import connect_as_hub

    settings = common.settings(home, nats_url, ledger_url)
    row, body = _dead_letter(settings, dead_id)
    url = common.running_nats(settings)

    async def again() -> int:
        # only the hub may write on any agency's subject
        nc = await connect_as_hub(settings, url, "mechbus-dlq")
        try:
            ack = await nc.jetstream().publish(
                row.nats_subject,
                body,
                stream="MECHBUS",
                headers={
                    "Nats-Msg-Id": f"retry-{row.stream_seq}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
                },
            )
            return int(ack.seq)
        finally:
            await nc.drain()

    seq = asyncio.run(again())
    said = _("dead letter {number} published again as stream seq {seq}")
    console.print(said.format(number=dead_id, seq=seq))
