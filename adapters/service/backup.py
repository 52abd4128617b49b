"""Backups of a home's record: a consistent copy of the ledger, the stream's own snapshot
(sealed: it holds people's details in the clear), and a manifest saying what was copied, where
the chain stood and which keys a restore needs (the restore drill is
``adapters.service.restore``).

No key is ever written into a backup: whoever holds a backup and the keys can read people's
details, so the keys are kept elsewhere and named here only by a fingerprint."""

from __future__ import annotations

import asyncio
import json
import os
import struct
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.engine import make_url

from adapters.i18n import _
from adapters.ledger.copying import BackupError, copy_sqlite, dump_postgres
from adapters.ledger.sealing import Sealer
from adapters.natsserver import snapshot
from adapters.service import compose
from adapters.service.actions import connect_as_hub
from adapters.service.backup_format import (
    FORMAT,
    MANIFEST,
    PG_DUMP,
    SEALED_MAGIC,
    SEALED_PIECE,
    SQLITE_COPY,
    STREAM_FILE,
    file_sha256,
    fingerprint,
    manifest_seal,
    piece_context,
)
from adapters.settings import Settings
from bus.domain.streams import StreamSpec

# -- keys: named, never copied ---------------------------------------------------------------


def _keys(settings: Settings, sealer: Sealer) -> list[dict[str, str]]:
    """The keys a restored home needs, by file name under ``creds/`` and fingerprint."""
    keys = [
        {
            "file": settings.ledger_key_file.name,
            "fingerprint": sealer.fingerprint,
            "for": "the ledger's sealed personal details and this backup's stream snapshot",
        }
    ]
    if settings.copy_ids_file.exists():
        keys.append(
            {
                "file": settings.copy_ids_file.name,
                "fingerprint": fingerprint(settings.copy_ids_file.read_bytes()),
                "for": "the message ids of federal copies (retries still collapse)",
            }
        )
    return keys


# -- the sealed stream snapshot --------------------------------------------------------------


class _SealedWriter:
    """Seals the snapshot as it arrives, a piece at a time; each piece's number and whether it
    is the last are bound to it, so that a piece moved, dropped or cut off fails to open."""

    def __init__(self, out: BinaryIO, sealer: Sealer) -> None:
        self.out = out
        self.sealer = sealer
        self.pending = bytearray()
        self.index = 0
        out.write(SEALED_MAGIC)

    def write(self, data: bytes) -> None:
        self.pending += data
        while len(self.pending) > SEALED_PIECE:
            self._piece(bytes(self.pending[:SEALED_PIECE]), last=False)
            del self.pending[:SEALED_PIECE]

    def close(self) -> None:
        self._piece(bytes(self.pending), last=True)

    def _piece(self, plain: bytes, last: bool) -> None:
        sealed = self.sealer.seal(plain, piece_context(self.index, last))
        self.out.write(struct.pack(">IB", len(sealed), last) + sealed)
        self.index += 1


# -- taking a backup -------------------------------------------------------------------------


def refuse_used_directory(target: Path) -> None:
    """A backup goes into a new (or empty) directory, never over another."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(
            _("{path} exists and is not empty: a backup goes into a new directory").format(
                path=target
            )
        )


def take(settings: Settings, target: Path, nats_url: str) -> dict[str, Any]:
    """Back the home's record up into the new directory ``target``: the ledger first, then the
    stream (which holds at least everything the copied ledger recorded); the manifest."""
    refuse_used_directory(target)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        return _write(settings, target, nats_url)
    except BaseException:
        # A half-written backup is no backup: nothing is left to be mistaken for one.
        for written in target.iterdir():
            written.unlink()
        raise


def _write(settings: Settings, target: Path, nats_url: str) -> dict[str, Any]:
    sealer = compose.sealer(settings)
    url = make_url(settings.ledger_url)
    dialect = url.get_backend_name()
    ledger = compose.open_ledger(settings)  # refuses a ledger that is missing or not upgraded
    ledger.close()
    if dialect == "sqlite":
        ledger_file = SQLITE_COPY
        point = copy_sqlite(url, target / SQLITE_COPY)
    elif dialect == "postgresql":
        ledger_file = PG_DUMP
        point = dump_postgres(url, target / PG_DUMP)
    else:
        raise BackupError(_("cannot back up a ledger on {dialect}").format(dialect=dialect))
    stream = asyncio.run(_snapshot(settings, nats_url, target / STREAM_FILE, sealer))
    files = [ledger_file, STREAM_FILE]
    manifest = {
        "format": FORMAT,
        "taken_at": datetime.now(UTC).isoformat(),
        "mechbus_version": metadata.version("mechbus"),
        "ledger": {"dialect": dialect, "file": ledger_file, **point},
        "stream": {
            "name": stream.config.get("name"),
            "last_seq": stream.last_seq,
            "first_seq": stream.first_seq,
            "messages": stream.messages,
            "config": stream.config,
            "state": stream.state,
        },
        "files": {
            name: {"sha256": file_sha256(target / name), "bytes": (target / name).stat().st_size}
            for name in files
        },
        "keys": _keys(settings, sealer),
    }
    manifest["seal"] = manifest_seal(manifest, sealer)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


async def _snapshot(
    settings: Settings, nats_url: str, into: Path, sealer: Sealer
) -> snapshot.StreamState:
    nc = await connect_as_hub(settings, nats_url, "mechbus-backup")
    try:
        with into.open("wb") as out:
            sealed = _SealedWriter(out, sealer.for_backups())
            state = await snapshot.snapshot(nc, StreamSpec().name, sealed.write)
            sealed.close()
            out.flush()
            os.fsync(out.fileno())
        return state
    finally:
        await nc.drain()
