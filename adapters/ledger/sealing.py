"""Sealing personal data at rest: AES-256-GCM with the deployment's key.

The key lives in the home's ``creds/ledger.key`` (0600, created on first use) or is given in the
environment (base64; see adapters.environment). Each sealed value is nonce || ciphertext, bound
to its row by the associated data (the message id), so a sealed value moved to another row fails
to open.

The same key, through HKDF with a label of its own, keys the blind index of people's names
(``blind``): the ledger can say which messages name a person without holding the name, and
without the deployment key nobody can test a guess against it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bus.domain.errors import LedgerError

log = logging.getLogger("mechbus.sealing")


class SealError(LedgerError, ValueError):
    """A sealed value could not be opened: wrong key, or the value was altered or moved."""


PERSON_INDEX_LABEL = b"mechbus person-index v1"
BACKUP_LABEL = b"mechbus stream-backup v1"
FINGERPRINT_LABEL = b"mechbus key-fingerprint v1"


def _derived(key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(key)


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the ledger key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)
        # A key of its own, never stored: knowing an index entry reveals nothing of the sealing.
        self._index_key = _derived(key, PERSON_INDEX_LABEL)
        # A backup's stream snapshot is sealed under a key of its own, derived the same way.
        self._backup_key = _derived(key, BACKUP_LABEL)
        # Names this key in a backup's manifest without giving anything of it away.
        self.fingerprint = _derived(key, FINGERPRINT_LABEL).hex()[:16]

    @classmethod
    def ephemeral(cls) -> Sealer:
        """A key that is never written anywhere: sealed values die with the process."""
        log.warning("personal fields are sealed with a throw-away key (no deployment key given)")
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_file(cls, path: Path) -> Sealer:
        """The deployment key at ``path``, created if absent."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")
        return cls(base64.b64decode(path.read_bytes().strip()))

    def for_backups(self) -> Sealer:
        """The sealer of backups' stream snapshots (``adapters.service.backup``, ``.restore``)."""
        return Sealer(self._backup_key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], context.encode())
        except InvalidTag:
            raise SealError(f"sealed value for {context} does not open with this key") from None

    def blind(self, value: str) -> str:
        """HMAC-SHA256 of ``value`` under the person-index key, in hex."""
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).hexdigest()
