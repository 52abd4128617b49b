"""Where mechbus keeps its state: MECHBUS_HOME, else the user's data directory."""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir

from adapters import locks
from adapters.ledger.sealing import Sealer
from adapters.ledger.store import HubLease, LeaseHeld, PoolOptions, SqlLedger, sqlite_url
from adapters.natsserver.tls import TlsFiles
from bus.domain.errors import ConfigurationError, HeldError
from bus.domain.msgids import CopyIds
from bus.domain.policy import POLICY_ENV, Policy
from schemas.registry import REGISTRY_ENV, AgencyRegistry, use_registry


@dataclass(frozen=True)
class Settings:
    home: Path
    ledger_url: str
    nats_url: str | None  # None: run the embedded nats-server
    pool: PoolOptions = field(default_factory=PoolOptions)  # PostgreSQL only
    listen: str | None = None  # HOST:PORT of the embedded server; None: the one in the home
    retention_days: float = 0.0  # how long the stream keeps messages; 0: forever

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
        """The deployment's key for the ``Nats-Msg-Id`` of each federal copy (bus.domain.msgids):
        every federal process of this home computes the same header for the same copy, and no
        agency can (created on first use, 0600, beside the ledger key)."""
        key = _secret_file(
            self.creds_dir / "copy-ids.key", lambda: secrets.token_bytes(CopyIds.KEY_BYTES)
        )
        return CopyIds(key)

    def store_key(self) -> str:
        """The deployment key that encrypts the JetStream store (created on first use)."""
        given = os.environ.get(STORE_KEY_ENV, "").strip()
        if given:
            return _checked_store_key(given, STORE_KEY_ENV)
        path = self.creds_dir / "nats-store.key"
        made = _secret_file(path, lambda: f"mk{secrets.token_hex(32)}\n".encode())
        return _checked_store_key(made.decode("utf-8").strip(), str(path))

    @property
    def up_lock(self) -> Path:
        """Held by the one ``mechbus up`` running on this home; says who it is."""
        return self.home / "up.lock"

    @property
    def listen_file(self) -> Path:
        """The embedded server's address, chosen at the first ``mechbus up`` and kept."""
        return self.home / "nats.listen"

    def ledger(self) -> SqlLedger:
        return SqlLedger(self.ledger_url, sealer=self.sealer(), pool=self.pool)

    @property
    def url_file(self) -> Path:
        """Where ``mechbus up`` writes the URL of the server it runs, for ``mechbus send``."""
        return self.home / "nats.url"

    @contextmanager
    def hold_home(self) -> Iterator[locks.HeldLock]:
        """Be the one ``mechbus up`` on this home, or raise ``HubRunning`` at once naming the
        one that is. The lock carries what others should know of the holder (its address)."""
        try:
            held = locks.acquire(self.up_lock)
        except locks.LockHeld as exc:
            raise HubRunning(
                f"mechbus up is already running on {self.home}: "
                f"{locks.describe(exc.holder)}; stop it first, or use another home"
            ) from None
        try:
            yield held
        finally:
            held.release()

    @contextmanager
    def lease(self, ledger: SqlLedger) -> Iterator[HubLease]:
        """``ledger.hub_lease()``, refused as ``HubRunning``."""
        try:
            with ledger.hub_lease() as lease:
                yield lease
        except LeaseHeld as exc:
            raise HubRunning(str(exc)) from None

    @contextmanager
    def sole_hub(self, ledger: SqlLedger, *, home: bool = True) -> Iterator[None]:
        """This home (with ``home``) and ``ledger`` for one recording hub, or ``HubRunning``."""
        with contextlib.ExitStack() as stack:
            if home:
                stack.enter_context(self.hold_home())
            stack.enter_context(self.lease(ledger))
            yield

    def running_nats_url(self) -> str | None:
        if self.nats_url:
            return self.nats_url
        if self.url_file.exists():
            return self.url_file.read_text(encoding="utf-8").strip() or None
        return None


STORE_KEY_ENV = "MECHBUS_STORE_KEY"
# nats-server reads the key as a config value: a leading letter keeps it a string.
_STORE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{31,}")


def _checked_store_key(key: str, origin: str) -> str:
    if not _STORE_KEY.fullmatch(key):
        raise SettingsError(
            f"the stream store key in {origin} must be at least 32 letters, digits, '-' or '_', "
            "starting with a letter"
        )
    return key


def load_settings(
    home: Path | None = None,
    ledger_url: str | None = None,
    nats_url: str | None = None,
) -> Settings:
    root = home or Path(os.environ.get("MECHBUS_HOME") or user_data_dir("mechbus", "mechbus"))
    root.mkdir(parents=True, exist_ok=True)
    ledger = ledger_url or os.environ.get("MECHBUS_LEDGER_URL") or sqlite_url(root / "ledger.db")
    url = nats_url or os.environ.get("MECHBUS_NATS_URL") or None
    return Settings(
        home=root,
        ledger_url=ledger,
        nats_url=url,
        pool=pool_options(),
        listen=os.environ.get("MECHBUS_LISTEN") or None,
        retention_days=_days(os.environ, "MECHBUS_RETENTION_DAYS"),
    )


def registry_from(environ: Mapping[str, str] = os.environ) -> AgencyRegistry:
    """The deployment's agency registry: the file ``MECHBUS_AGENCIES`` names, else the default.

    The contract and the domain never read the environment; whoever runs a process asks here
    and installs the answer (``schemas.registry.use_registry``) or passes it down.
    """
    return AgencyRegistry.load(_named_file(environ, REGISTRY_ENV))


def install_registry(environ: Mapping[str, str] = os.environ) -> None:
    """Install the deployment's registry when ``MECHBUS_AGENCIES`` names one; otherwise the
    shipped registry is loaded on first use (so a command that validates nothing never loads it).
    """
    if _named_file(environ, REGISTRY_ENV) is not None:
        use_registry(registry_from(environ))


def policy_from(environ: Mapping[str, str] = os.environ) -> Policy:
    """The deployment's deadline policy: the file ``MECHBUS_POLICY`` names, else the default."""
    return Policy.load(_named_file(environ, POLICY_ENV))


def _named_file(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name)
    return Path(value) if value else None


def _days(environ: Mapping[str, str], name: str) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and value >= 0:
        return value
    raise SettingsError(f"{name} must be a number of days, 0 for forever; got {raw!r}")


class HubRunning(HeldError, RuntimeError):
    """Another hub already runs on this home or records into this ledger."""


class SettingsError(ConfigurationError, ValueError):
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


def _secret_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """A deployment secret kept in ``path`` (0600), made by ``make`` on first use; of two
    processes making it at once, the first one's stands."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as secret:
                secret.write(make())
    return path.read_bytes()
