"""The restore drill: a backup restored into an empty home, every file, the ledger's chain and
the stream checked against the backup's manifest, and what the stream took in after the ledger
was copied recorded (taking the backup is ``adapters.service.backup``)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import shutil
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from adapters.i18n import _
from adapters.ledger.copying import (
    BackupError,
    PgTarget,
    restore_postgres,
    restore_sqlite,
    sqlite_path,
)
from adapters.ledger.replay import replay
from adapters.ledger.sealing import Sealer, SealError
from adapters.ledger.store import make_engine
from adapters.natsserver import snapshot
from adapters.service import compose
from adapters.service.actions import connect_as_hub
from adapters.service.backup_format import (
    FORMAT,
    MANIFEST,
    SEALED_MAGIC,
    STREAM_FILE,
    file_sha256,
    fingerprint,
    manifest_seal,
    piece_context,
)
from adapters.settings import Settings
from bus.domain.policy import Policy

# -- the sealed stream snapshot --------------------------------------------------------------


def _opened_pieces(path: Path, sealer: Sealer) -> Iterator[bytes]:
    with path.open("rb") as sealed:
        if sealed.read(len(SEALED_MAGIC)) != SEALED_MAGIC:
            raise BackupError(_("{path} is not a sealed stream snapshot").format(path=path))
        index = 0
        while True:
            head = sealed.read(5)
            if len(head) < 5:
                raise BackupError(_("{path} is cut short").format(path=path))
            size, last = struct.unpack(">IB", head)
            try:
                yield sealer.open(sealed.read(size), piece_context(index, bool(last)))
            except SealError:
                raise BackupError(
                    _(
                        "the stream snapshot does not open with this home's ledger key "
                        "(creds/ledger.key): it is not the key the backup was taken with"
                    )
                ) from None
            if last:
                return
            index += 1


# -- restoring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    """What a restore checked and did."""

    chain_rows: int
    chain_head: dict[str, Any] | None
    stream_last_seq: int
    caught_up: int  # messages the stream held beyond the copied ledger, recorded now


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(_("{path} holds no manifest.json: not a backup").format(path=source))
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise BackupError(_("{path} is not readable JSON").format(path=path)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(
            _("{path}: a backup of format {found}, this mechbus reads format {known}").format(
                path=source, found=dict(manifest).get("format"), known=FORMAT
            )
        )
    return manifest


def check_seal(settings: Settings, manifest: dict[str, Any]) -> None:
    """The manifest is the one the backup wrote (checked after the keys: it needs the ledger
    key)."""
    expected = manifest_seal(manifest, compose.sealer(settings))
    if not hmac.compare_digest(str(manifest.get("seal", "")), expected):
        raise BackupError(
            _(
                "manifest.json was changed after the backup wrote it (its seal does not hold "
                "under this ledger key): do not restore from this backup"
            )
        )


def check_files(source: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists, as it was written: its sha256."""
    for name, expected in manifest["files"].items():
        path = source / name
        if not path.is_file():
            raise BackupError(_("{path} is missing from the backup").format(path=path))
        if file_sha256(path) != expected["sha256"]:
            raise BackupError(
                _(
                    "{path} is not the file the backup wrote (its sha256 differs): do not "
                    "restore from this backup"
                ).format(path=path)
            )


def check_keys(settings: Settings, manifest: dict[str, Any]) -> list[str]:
    """Refuse a home without the ledger key the backup was taken with; the other keys'
    problems, as warnings."""
    warnings = []
    for key in manifest["keys"]:
        path = settings.creds_dir / key["file"]
        if key["file"] == settings.ledger_key_file.name:
            if not settings.ledger_key and not path.exists():
                raise BackupError(
                    _(
                        "the new home has no {file} (fingerprint {fp}): copy the keys kept "
                        "apart into {dir} (or use --keys-from) before restoring"
                    ).format(file=key["file"], fp=key["fingerprint"], dir=settings.creds_dir)
                )
            found = compose.sealer(settings).fingerprint
        elif path.exists():
            found = fingerprint(path.read_bytes())
        else:
            warnings.append(
                _("{file} (fingerprint {fp}) is not in {dir}: {purpose}").format(
                    file=key["file"],
                    fp=key["fingerprint"],
                    dir=settings.creds_dir,
                    purpose=key["for"],
                )
            )
            continue
        if found != key["fingerprint"]:
            raise BackupError(
                _(
                    "{file} in the new home has fingerprint {found}, the backup needs {fp}: "
                    "not the key the backup was taken with"
                ).format(file=key["file"], found=found, fp=key["fingerprint"])
            )
    return warnings


def copy_keys(keys_from: Path, settings: Settings) -> list[str]:
    """Copy the key files kept apart (a copy of a home's ``creds/``) into the new home, 0600;
    the names copied. A key already there is left alone (and checked later)."""
    if not keys_from.is_dir():
        raise BackupError(_("{path} is not a directory of keys").format(path=keys_from))
    settings.creds_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    copied = []
    for entry in sorted(keys_from.iterdir()):
        destination = settings.creds_dir / entry.name
        if destination.exists():
            continue
        if entry.is_dir():
            shutil.copytree(entry, destination)
        else:
            shutil.copy2(entry, destination)
            destination.chmod(0o600)
        copied.append(entry.name)
    return copied


def refuse_occupied(settings: Settings, dialect: str) -> None:
    """A restore goes into an empty home: no ledger, no stream store, no running bus."""
    url = make_url(settings.ledger_url)
    if url.get_backend_name() != dialect:
        raise BackupError(
            _("the backup holds a {dialect} ledger; the target ledger is {target}").format(
                dialect=dialect, target=url.get_backend_name()
            )
        )
    if dialect == "sqlite":
        path = sqlite_path(url)
        if path.exists() and path.stat().st_size > 0:
            raise BackupError(
                _("{path} already holds a ledger: restore into an empty home").format(path=path)
            )
    else:
        engine = make_engine(settings.ledger_url)
        try:
            with engine.connect() as conn:
                tables = inspect(conn).get_table_names()
        finally:
            engine.dispose()
        if tables:
            raise BackupError(
                _(
                    "the target schema {schema} already has {count} tables: restore into an "
                    "empty schema"
                ).format(schema=PgTarget.of(url).schema, count=len(tables))
            )
    store = settings.nats_store
    if not settings.nats_url and store.exists() and any(store.iterdir()):
        raise BackupError(
            _("{path} already holds a stream store: restore into an empty home").format(path=store)
        )


def restore_ledger(source: Path, settings: Settings, manifest: dict[str, Any]) -> None:
    ledger = manifest["ledger"]
    url = make_url(settings.ledger_url)
    if ledger["dialect"] == "sqlite":
        restore_sqlite(source / ledger["file"], url)
    else:
        restore_postgres(source / ledger["file"], url, ledger["schema"])


def check_chain(settings: Settings, manifest: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """The restored ledger's hash chain holds, and ends where the manifest says it did."""
    ledger = compose.open_ledger(settings)
    try:
        checked, broken, head = ledger.verify_chain()
    finally:
        ledger.close()
    if broken is not None:
        raise BackupError(
            _("the restored ledger's chain is broken at row {seq}: it {problem}").format(
                seq=broken.seq, problem=broken.problem
            )
        )
    found = {"seq": head[0], "message_id": head[1], "row_hash": head[2]} if head else None
    if found != manifest["ledger"]["chain_head"]:
        raise BackupError(
            _(
                "the restored ledger's chain ends at {found}, the manifest says {expected}: "
                "the backup's ledger and its manifest do not belong together"
            ).format(found=found, expected=manifest["ledger"]["chain_head"])
        )
    return checked, found


async def _chunks(path: Path, sealer: Sealer) -> AsyncIterator[bytes]:
    for piece in _opened_pieces(path, sealer):
        if piece:
            yield piece


async def restore_stream(
    settings: Settings,
    nats_url: str,
    source: Path,
    manifest: dict[str, Any],
    policy: Policy,
) -> tuple[int, int]:
    """Send the stream back to the server, check its last sequence, and record in the
    ledger what the stream took in after the ledger was copied: (last sequence, caught up)."""
    sealer = compose.sealer(settings).for_backups()
    described = manifest["stream"]
    config = dict(described["config"])
    if not settings.nats_url:  # the embedded server of a restore is a single one
        config["num_replicas"] = 1
    state = snapshot.StreamState(config, described["state"])
    nc = await connect_as_hub(settings, nats_url, "mechbus-restore")
    try:
        restored = await snapshot.restore(nc, state, _chunks(source / STREAM_FILE, sealer))
        if restored.last_seq != described["last_seq"]:
            raise BackupError(
                _(
                    "the restored stream ends at sequence {found}, the manifest says {expected}"
                ).format(found=restored.last_seq, expected=described["last_seq"])
            )
        ledger = compose.open_ledger(settings)
        try:
            report = await replay(
                nc.jetstream(),
                ledger,
                policy=policy,
                after_seq=manifest["ledger"]["recorded_through_stream_seq"],
            )
        finally:
            ledger.close()
        return restored.last_seq, report.read
    finally:
        await nc.drain()


def restore(
    source: Path,
    settings: Settings,
    nats_url: Callable[[], contextlib.AbstractAsyncContextManager[str]],
    policy: Policy,
) -> Restored:
    """The whole restore after the refusals: the server ``nats_url`` gives (an async context
    yielding its URL) must not hold the stream; then the ledger, its chain, the stream and the
    catch-up."""
    manifest = read_manifest(source)

    async def drill() -> Restored:
        async with nats_url() as url:
            await _refuse_existing_stream(settings, url, manifest["stream"]["name"])
            await asyncio.to_thread(restore_ledger, source, settings, manifest)
            rows, head = await asyncio.to_thread(check_chain, settings, manifest)
            last_seq, caught_up = await restore_stream(settings, url, source, manifest, policy)
            return Restored(rows, head, last_seq, caught_up)

    return asyncio.run(drill())


async def _refuse_existing_stream(settings: Settings, nats_url: str, name: str) -> None:
    nc = await connect_as_hub(settings, nats_url, "mechbus-restore")
    try:
        await nc.jetstream().stream_info(name)
    except NotFoundError:
        return
    finally:
        await nc.drain()
    raise BackupError(
        _("the server at {url} already holds a stream {name}: restore into an empty one").format(
            url=nats_url, name=name
        )
    )
