"""``mechbus contract``: the published contract (AsyncAPI 3.0 and JSON Schemas);
``mechbus schemas``: the JSON Schemas alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapters.cli.common import console as main_console
from adapters.i18n import _
from adapters.output import make_console

app = typer.Typer(help="The published contract for agencies.", no_args_is_help=True)
schemas_app = typer.Typer(help="The published contract.", no_args_is_help=True)
console = make_console(highlight=False)
# adapters.contract.DEFAULT_DIR, named again because importing that module loads FastStream
# (tests/test_cli_startup.py checks that the two agree)
DEFAULT_DIR = Path("docs/contract")


@app.command("export")
def contract_export(
    directory: Annotated[
        Path, typer.Argument(help="Where to write the contract (default: docs/contract).")
    ] = DEFAULT_DIR,
) -> None:
    """Write the AsyncAPI 3.0 document (FastStream's generator) and every message's JSON Schema.

    The README in that directory is hand-written and left as it is.
    """
    from adapters.contract import export

    written = export(directory)
    said = _("wrote {document} and {count} JSON Schemas to {directory}")
    console.print(
        said.format(
            document=directory / written[0].name,
            count=len(written) - 1,
            directory=written[1].parent,
        )
    )


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(help="Where to write the JSON Schemas.")],
) -> None:
    """Write one JSON Schema per message type (and one for the whole union)."""
    from schemas.messages import export_json_schemas

    written = export_json_schemas(directory)
    said = _("wrote {count} JSON Schemas to {directory}")
    main_console.print(said.format(count=len(written), directory=directory))
