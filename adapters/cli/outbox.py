"""``mechbus outbox``: what the federal services kept because NATS had not confirmed it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer

from adapters.cli import common
from adapters.cli.common import Listing, console, listing
from adapters.cli.options import (
    HomeOpt,
    LedgerOpt,
    NatsOpt,
)
from adapters.i18n import _
from adapters.readmodel.record_columns import OUTBOX_CLI

if TYPE_CHECKING:
    from adapters.ledger.outbox import Outbox

app = typer.Typer(
    help="The federal services' outbox: what NATS has not confirmed yet.", no_args_is_help=True
)


@app.command("list")
@listing
def outbox_list(
    *,
    view: Listing,
) -> None:
    """Messages kept in the outbox and not published yet, oldest first."""
    from adapters.ledger.outbox import Outbox

    page = view.page
    with common.reading(view.settings()) as ledger:
        rows = Outbox(ledger).waiting(page.fetch, page.offset)
    view.show(rows, OUTBOX_CLI, _("Outbox (not yet published)"))


@app.command("relay")
def outbox_relay(
    home: HomeOpt = None, nats_url: NatsOpt = None, ledger_url: LedgerOpt = None
) -> None:
    """Publish what waits in the outbox now (``mechbus up`` does this continuously)."""
    from adapters.ledger.outbox import Outbox
    from adapters.service import compose
    from adapters.service.actions import connect_as_hub
    from bus.domain.streams import StreamSpec
    from bus.runtime.transport import JetStreamTransport

    settings = common.settings(home, nats_url, ledger_url)
    url = common.running_nats(settings)

    async def once(outbox: Outbox) -> int:
        from adapters.service import compose

        nc = await connect_as_hub(settings, url, "mechbus-outbox")
        try:
            transport = JetStreamTransport(nc.jetstream(), StreamSpec().name)
            return await outbox.relay(transport, copy_ids=compose.copy_ids(settings))
        finally:
            await nc.drain()

    ledger = compose.open_ledger(settings)
    try:
        outbox = Outbox(ledger)
        sent = asyncio.run(once(outbox))
        left = len(outbox.waiting())
    finally:
        ledger.close()
    said = _("published {sent} from the outbox; {left} still waiting")
    console.print(said.format(sent=sent, left=left))
    if left:
        raise typer.Exit(1)
