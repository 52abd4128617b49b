"""Where mechbus keeps its state: MECHBUS_HOME, else the user's data directory."""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir

from adapters.ledger import PoolOptions, SqlLedger, sqlite_url
from adapters.sealing import Sealer
from adapters.tls import TlsFiles
from bus.msgids import CopyIds


@dataclass(frozen=True)
class Settings:
    home: Path
    ledger_url: str
    nats_url: str | None  # None: run the embedded nats-server
    pool: PoolOptions = field(default_factory=PoolOptions)  # PostgreSQL only

    @property
    def nats_store(self) -> Path:
        return self.home / "nats"

    @property
    def creds_dir(self) -> Path:
        """The deployment's NATS credentials (``mechbus creds``)."""
        return self.home / "creds"

    def creds_for(self, agency: str) -> Path | None:
        """The agency's seed file when this home holds credentials for it."""
        path = self.creds_dir / f"{agency}.nk"
        return path if path.exists() else None

    @property
    def tls_files(self) -> TlsFiles:
        """Where ``mechbus creds tls`` writes the CA and server certificate."""
        return TlsFiles.in_dir(self.creds_dir / "tls")

    def tls_context(self) -> ssl.SSLContext | None:
        """A client context trusting this deployment's CA, when TLS is set up."""
        return self.tls_files.client_context() if self.tls_files.exist() else None

    def sealer(self) -> Sealer:
        """The deployment key that seals personal fields in the ledger (created on first use)."""
        return Sealer.from_file(self.creds_dir / "ledger.key")

    def copy_ids(self) -> CopyIds:
        """The deployment's key for the ``Nats-Msg-Id`` of each federal copy (bus.msgids):
        every federal process of this home computes the same header for the same copy, and no
        agency can (created on first use, 0600, beside the ledger key)."""
        path = self.creds_dir / "copy-ids.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another process made it first
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as key_file:
                    key_file.write(secrets.token_bytes(CopyIds.KEY_BYTES))
        return CopyIds(path.read_bytes())

    def ledger(self) -> SqlLedger:
        return SqlLedger(self.ledger_url, sealer=self.sealer(), pool=self.pool)

    @property
    def url_file(self) -> Path:
        """Where ``mechbus up`` writes the URL of the server it runs, for ``mechbus send``."""
        return self.home / "nats.url"

    def running_nats_url(self) -> str | None:
        if self.nats_url:
            return self.nats_url
        if self.url_file.exists():
            return self.url_file.read_text(encoding="utf-8").strip() or None
        return None


def load_settings(
    home: Path | None = None, ledger_url: str | None = None, nats_url: str | None = None
) -> Settings:
    root = home or Path(os.environ.get("MECHBUS_HOME") or user_data_dir("mechbus", "mechbus"))
    root.mkdir(parents=True, exist_ok=True)
    ledger = ledger_url or os.environ.get("MECHBUS_LEDGER_URL") or sqlite_url(root / "ledger.db")
    url = nats_url or os.environ.get("MECHBUS_NATS_URL") or None
    return Settings(home=root, ledger_url=ledger, nats_url=url, pool=pool_options())


class SettingsError(ValueError):
    """A setting from the environment that mechbus cannot use."""


def pool_options(environ: Mapping[str, str] = os.environ) -> PoolOptions:
    """The ledger's connection pool: defaults, each overridable by an environment variable."""
    default = PoolOptions()
    return PoolOptions(
        size=_whole(environ, "MECHBUS_DB_POOL_SIZE", default.size, low=1),
        # SQLAlchemy's -1 ("no limit") is refused: a burst could take all of the server's
        # max_connections from every other client.
        max_overflow=_whole(environ, "MECHBUS_DB_MAX_OVERFLOW", default.max_overflow, low=0),
        timeout=_seconds(environ, "MECHBUS_DB_POOL_TIMEOUT", default.timeout),
        recycle=_whole(environ, "MECHBUS_DB_POOL_RECYCLE", default.recycle, low=1, never=True),
    )


def _whole(
    environ: Mapping[str, str], name: str, default: int, *, low: int, never: bool = False
) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value: int | None = int(raw)
    except ValueError:
        value = None
    if value is not None and (value >= low or (never and value == -1)):
        return value
    wanted = f"a whole number of at least {low}" + (" (or -1: never)" if never else "")
    raise SettingsError(f"{name} must be {wanted}; got {raw!r}")


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and value > 0:
        return value
    raise SettingsError(f"{name} must be a number of seconds greater than 0; got {raw!r}")
