"""What a backup is made of, for taking one and for restoring it: its files' names and format,
a key's fingerprint, the context each sealed piece of the stream snapshot is bound to, a file's
sha256 and the manifest's seal."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from adapters.ledger.sealing import Sealer

MANIFEST = "manifest.json"
SQLITE_COPY = "ledger.sqlite3"
PG_DUMP = "ledger.pgdump"
STREAM_FILE = "stream.snapshot.sealed"
FORMAT = 1
SEALED_MAGIC = b"MECHBUS-SEALED-SNAPSHOT-1\n"
SEALED_PIECE = 1024 * 1024  # bytes of snapshot sealed together
FINGERPRINT_LABEL = b"mechbus key-fingerprint v1"


def fingerprint(secret: bytes) -> str:
    """Names a key file's content in a manifest without giving anything of it away."""
    return hashlib.sha256(FINGERPRINT_LABEL + secret.strip()).hexdigest()[:16]


def piece_context(index: int, last: bool) -> str:
    return f"stream-snapshot:{index}:{'last' if last else 'more'}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_seal(manifest: dict[str, Any], sealer: Sealer) -> str:
    """A keyed hash of the manifest (all but its seal) under the backups' key: the manifest
    vouches for every file by its sha256, and the seal for the manifest, so a backup changed
    anywhere, manifest included, is refused by whoever holds the ledger key."""
    content = {k: v for k, v in manifest.items() if k != "seal"}
    # ``blind`` is the sealer's keyed hash (HMAC-SHA256 under a key of its own)
    return sealer.for_backups().blind(json.dumps(content, sort_keys=True))
