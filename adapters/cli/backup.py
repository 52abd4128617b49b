"""``mechbus backup`` and ``mechbus restore``: the record copied into a new directory, and
restored from one into an empty home, checked against its manifest (see docs/backup.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from adapters.cli import common
from adapters.cli.common import console
from adapters.cli.options import HomeOpt, LedgerOpt, NatsOpt, PolicyOpt
from adapters.i18n import _


def _first_line(exc: Exception) -> str:
    """What went wrong, without the database driver's trailing detail and links."""
    text = str(exc)
    return text if not text.startswith("(") else text.splitlines()[0]


def _sized(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"


def backup(
    to: Annotated[Path, typer.Option("--to", help="A new (or empty) directory for the backup.")],
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
) -> None:
    """Copy the ledger and the stream into a new directory, with a manifest; no keys."""
    from sqlalchemy.exc import SQLAlchemyError

    from adapters.ledger.copying import BackupError
    from adapters.service.backup import refuse_used_directory, take
    from bus.domain.errors import TransportError

    settings = common.settings(home, nats_url, ledger_url)
    started = time.monotonic()
    try:
        refuse_used_directory(to)
        manifest = take(settings, to, common.running_nats(settings))
    except (BackupError, TransportError, SQLAlchemyError) as exc:
        said = _("backup refused: {reason}").format(reason=_first_line(exc))
        console.print(said, style="red", markup=False)
        raise typer.Exit(1) from None
    head = manifest["ledger"]["chain_head"] or {}
    size = sum(f["bytes"] for f in manifest["files"].values())
    said = _(
        "backup in {path} ({size}, {seconds:.1f} s): ledger chain head row {row}, stream "
        "{stream} to sequence {seq} ({count} messages)"
    )
    console.print(
        said.format(
            path=to,
            size=_sized(size),
            seconds=time.monotonic() - started,
            row=head.get("seq", 0),
            stream=manifest["stream"]["name"],
            seq=manifest["stream"]["last_seq"],
            count=manifest["stream"]["messages"],
        ),
        markup=False,
    )
    keys = ", ".join(f"{k['file']} ({k['fingerprint']})" for k in manifest["keys"])
    said = _(
        "the backup holds no keys; a restore needs {keys} from {dir}: keep a copy of that "
        "directory apart from the backups"
    )
    console.print(said.format(keys=keys, dir=settings.creds_dir), markup=False)


def restore(
    source: Annotated[
        Path, typer.Option("--from", help="The directory `mechbus backup --to` wrote.")
    ],
    keys_from: Annotated[
        Path | None,
        typer.Option(
            "--keys-from",
            help="A copy of the old home's creds/ directory: its key files are copied into "
            "the new home's creds/ first.",
        ),
    ] = None,
    home: HomeOpt = None,
    nats_url: NatsOpt = None,
    ledger_url: LedgerOpt = None,
    policy: PolicyOpt = None,
) -> None:
    """Restore a backup into an empty home: check every file, the ledger's chain and the stream
    against the manifest (exit 1 on any refusal)."""
    from rich.console import Console
    from sqlalchemy.exc import SQLAlchemyError

    from adapters.ledger.copying import BackupError
    from adapters.service import restore as drill
    from adapters.service.embedded import nats_for
    from bus.domain.errors import LedgerError, TransportError

    settings = common.settings(home, nats_url, ledger_url)
    rules = common.policy(policy)
    started = time.monotonic()
    try:
        manifest = drill.read_manifest(source)
        drill.refuse_occupied(settings, manifest["ledger"]["dialect"])
        if keys_from is not None:
            copied = drill.copy_keys(keys_from, settings)
            said = _("keys copied into {dir}: {names}").format(
                dir=settings.creds_dir, names=", ".join(copied) or _("none")
            )
            console.print(said, markup=False)
        for warning in drill.check_keys(settings, manifest):
            console.print(warning, style="yellow", markup=False)
        drill.check_seal(settings, manifest)
        drill.check_files(source, manifest)
        quiet = Console(quiet=True)
        restored = drill.restore(source, settings, lambda: nats_for(settings, quiet), rules)
    except (BackupError, LedgerError, TransportError, SQLAlchemyError) as exc:
        said = _("restore refused: {reason}").format(reason=_first_line(exc))
        console.print(said, style="red", markup=False)
        raise typer.Exit(1) from None
    head = restored.chain_head or {}
    said = _(
        "restored in {seconds:.1f} s: {rows} ledger rows, chain intact, head row {row} as the "
        "manifest says; stream to sequence {seq} as the manifest says; {caught} messages the "
        "stream took in after the ledger was copied recorded now"
    )
    console.print(
        said.format(
            seconds=time.monotonic() - started,
            rows=restored.chain_rows,
            row=head.get("seq", 0),
            seq=restored.stream_last_seq,
            caught=restored.caught_up,
        ),
        markup=False,
    )
    said = _(
        "next: make sure {dir} holds the deployment's keys (and the agencies' credentials), "
        "then `mechbus up --home {home}`"
    )
    console.print(said.format(dir=settings.creds_dir, home=settings.home), markup=False)
