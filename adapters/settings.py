"""Where mechbus keeps its state and how it reaches its servers: plain values, read once from
the options and the environment (adapters.environment). Nothing here opens, creates or
connects to anything: adapters.service.compose turns these values into running objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir

from adapters import environment
from adapters.environment import SettingsError
from adapters.ledger.store import PoolOptions, sqlite_url
from adapters.natsserver.tls import TlsFiles
from bus.domain.errors import HeldError

__all__ = ["HubRunning", "Settings", "SettingsError", "load_settings"]


@dataclass(frozen=True)
class Settings:
    home: Path
    ledger_url: str
    nats_url: str | None  # None: run the embedded nats-server
    pool: PoolOptions = field(default_factory=PoolOptions)  # PostgreSQL only
    listen: str | None = None  # HOST:PORT of the embedded server; None: the one in the home
    retention_days: float = 0.0  # how long the stream keeps messages; 0: forever
    officers: int | None = None  # the staff count of the caseload projection; None: not set
    # Secrets given in the environment instead of the home's key files; kept out of the repr.
    store_key: str | None = field(default=None, repr=False)
    ledger_key: str | None = field(default=None, repr=False)  # base64
    smtp_password: str | None = field(default=None, repr=False)
    dashboard_secret: str | None = field(default=None, repr=False)

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

    @property
    def ledger_key_file(self) -> Path:
        """The key that seals personal fields in the ledger, unless the environment gives one."""
        return self.creds_dir / "ledger.key"

    @property
    def copy_ids_file(self) -> Path:
        """The key of the ``Nats-Msg-Id`` of each federal copy (bus.domain.msgids)."""
        return self.creds_dir / "copy-ids.key"

    @property
    def store_key_file(self) -> Path:
        """The key that encrypts the JetStream store, unless the environment gives one."""
        return self.creds_dir / "nats-store.key"

    @property
    def dashboard_key_file(self) -> Path:
        """The key that signs the dashboard's session cookies, unless the environment gives one."""
        return self.creds_dir / "dashboard.key"

    @property
    def up_lock(self) -> Path:
        """Held by the one ``mechbus up`` running on this home; says who it is."""
        return self.home / "up.lock"

    @property
    def listen_file(self) -> Path:
        """The embedded server's address, chosen at the first ``mechbus up`` and kept."""
        return self.home / "nats.listen"

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
    home: Path | None = None,
    ledger_url: str | None = None,
    nats_url: str | None = None,
) -> Settings:
    """The options given, else the environment, else the defaults; the home is made if new."""
    root = home or environment.home() or Path(user_data_dir("mechbus", "mechbus"))
    root.mkdir(parents=True, exist_ok=True)
    return Settings(
        home=root,
        ledger_url=(
            ledger_url or environment.text(environment.LEDGER_URL) or sqlite_url(root / "ledger.db")
        ),
        nats_url=nats_url or environment.text(environment.NATS_URL),
        pool=environment.pool_options(),
        listen=environment.text(environment.LISTEN),
        retention_days=environment.retention_days(),
        officers=environment.officers(),
        store_key=environment.store_key(),
        ledger_key=environment.text(environment.LEDGER_KEY),
        smtp_password=environment.given(environment.SMTP_PASSWORD),
        dashboard_secret=environment.text(environment.DASHBOARD_SECRET),
    )


class HubRunning(HeldError, RuntimeError):
    """Another hub already runs on this home or records into this ledger."""
