"""``mechbus contract``: the published contract (AsyncAPI 3.0 and JSON Schemas)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapters.contract import DEFAULT_DIR, export
from adapters.output import make_console

app = typer.Typer(help="The published contract for agencies.", no_args_is_help=True)
console = make_console(highlight=False)


@app.command("export")
def contract_export(
    directory: Annotated[
        Path, typer.Argument(help="Where to write the contract (default: docs/contract).")
    ] = DEFAULT_DIR,
) -> None:
    """Write the AsyncAPI 3.0 document (FastStream's generator) and every message's JSON Schema.

    The README in that directory is hand-written and left as it is.
    """
    written = export(directory)
    console.print(
        f"wrote {directory / written[0].name} and {len(written) - 1} JSON Schemas to "
        f"{written[1].parent}"
    )
