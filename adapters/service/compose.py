"""The composition root: settings in, running objects out. Every federal process (``mechbus up``,
the demo, the CLI's reads, the dashboard, the bridge, the benchmarks) gets its ledger, keys, TLS
context, hub, sweeper and outbox relay from here, so each is wired one way only."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters import environment, locks
from adapters.environment import SettingsError
from adapters.ledger.sealing import Sealer
from adapters.ledger.store import HubLease, LeaseHeld, SqlLedger
from adapters.settings import HubRunning, Settings
from bus.domain.errors import LedgerError
from bus.domain.federal import HUB
from bus.domain.msgids import CopyIds
from bus.domain.policy import Policy
from bus.domain.streams import StreamSpec

if TYPE_CHECKING:  # the running bus loads only for the processes that run it, not for a read
    from bus.runtime.hub import Hub

Stop = Callable[[], Awaitable[None]]

# -- keys and contexts ----------------------------------------------------------------------


def sealer(settings: Settings) -> Sealer:
    """The deployment key that seals personal fields in the ledger (created on first use)."""
    if settings.ledger_key:
        try:
            return Sealer(base64.b64decode(settings.ledger_key))
        except (binascii.Error, ValueError) as exc:
            raise SettingsError(
                f"{environment.LEDGER_KEY} must be a 32-byte key in base64: {exc}"
            ) from None
    return Sealer.from_file(settings.ledger_key_file)


def copy_ids(settings: Settings) -> CopyIds:
    """The deployment's key for the ``Nats-Msg-Id`` of each federal copy (bus.domain.msgids):
    every federal process of this home computes the same header for the same copy, and no
    agency can (created on first use, 0600, beside the ledger key)."""
    key = secret_file(settings.copy_ids_file, lambda: secrets.token_bytes(CopyIds.KEY_BYTES))
    return CopyIds(key)


def store_key(settings: Settings) -> str:
    """The deployment key that encrypts the JetStream store (created on first use)."""
    if settings.store_key:
        return environment.checked_store_key(settings.store_key, environment.STORE_KEY)
    path = settings.store_key_file
    made = secret_file(path, lambda: f"mk{secrets.token_hex(32)}\n".encode())
    return environment.checked_store_key(made.decode("utf-8").strip(), str(path))


def dashboard_secret(settings: Settings) -> str:
    """The key that signs the dashboard's session cookies: the environment's, or a file made
    once (0600) beside the deployment's other keys, so sessions survive a restart."""
    if settings.dashboard_secret:
        return settings.dashboard_secret
    settings.creds_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    made = secret_file(settings.dashboard_key_file, lambda: secrets.token_urlsafe(48).encode())
    return made.decode("utf-8").strip()


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """A client context trusting this deployment's CA, when TLS is set up: the home's own
    server certificate, or, for servers run apart (``--nats-url``), the CA alone, since a
    host that only connects must not hold a server's private key."""
    files = settings.tls_files
    apart = settings.nats_url is not None and files.ca.exists()
    return files.client_context() if files.exist() or apart else None


def secret_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """A deployment secret kept in ``path`` (0600), made by ``make`` on first use; of two
    processes making it at once, the first one's stands."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as secret:
                secret.write(make())
    return path.read_bytes()


# -- the ledger -----------------------------------------------------------------------------


def measurement_ledger(url: str) -> SqlLedger:
    """A ledger made at ``url`` for a measurement, sealed with a key written nowhere: nothing
    in it outlives the run (and no warning about a throw-away key is due)."""
    return SqlLedger(url, sealer=Sealer(os.urandom(32)), migrate=True)


class NoLedger(LedgerError):
    """A view was asked of a ledger that does not exist; the message says where it looked."""


def open_ledger(settings: Settings, *, migrate: bool = False) -> SqlLedger:
    """The home's ledger with its sealing key. Only a process that owns the ledger passes
    ``migrate``; any other open of a missing or older schema raises ``LedgerNotReady``, and of
    a SQLite file that does not exist ``NoLedger``: opening it would create an empty file (and
    a sealing key) that a later ``mechbus up`` takes for a ledger."""
    if not migrate:
        missing = _missing_sqlite_file(settings.ledger_url)
        if missing is not None:
            from adapters.i18n import _

            raise NoLedger(
                _(
                    "there is no ledger at %(path)s: `mechbus up` creates it (or `mechbus db "
                    "upgrade`, with the same --home or --ledger-url); nothing was created"
                )
                % {"path": missing}
            )
    return SqlLedger(
        settings.ledger_url, sealer=sealer(settings), pool=settings.pool, migrate=migrate
    )


def _missing_sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):  # a URI filename: SQLite's own options decide
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


@contextlib.contextmanager
def hold_home(settings: Settings) -> Iterator[locks.HeldLock]:
    """Be the one ``mechbus up`` on this home, or raise ``HubRunning`` at once naming the
    one that is. The lock carries what others should know of the holder (its address)."""
    try:
        held = locks.acquire(settings.up_lock)
    except locks.LockHeld as exc:
        raise HubRunning(
            f"mechbus up is already running on {settings.home}: "
            f"{locks.describe(exc.holder)}; stop it first, or use another home"
        ) from None
    try:
        yield held
    finally:
        held.release()


@contextlib.contextmanager
def lease(ledger: SqlLedger, **options: Any) -> Iterator[HubLease]:
    """``ledger.hub_lease(**options)``, refused (or lost) as ``HubRunning``."""
    try:
        with ledger.hub_lease(**options) as held:
            yield held
    except LeaseHeld as exc:
        raise HubRunning(str(exc)) from None


@contextlib.contextmanager
def sole_hub(settings: Settings, ledger: SqlLedger, *, home: bool = True) -> Iterator[None]:
    """This home (with ``home``) and ``ledger`` for one recording hub, or ``HubRunning``."""
    with contextlib.ExitStack() as stack:
        if home:
            stack.enter_context(hold_home(settings))
        stack.enter_context(lease(ledger))
        yield


# -- the hub and its companions -------------------------------------------------------------


def hub(
    settings: Settings | None,
    ledger: SqlLedger,
    servers: str | list[str],
    *,
    policy: Policy | None = None,
    provision: Iterable[str] = (),
    stream: StreamSpec | None = None,
    kind: type[Hub] | None = None,
    **options: Any,
) -> Hub:
    """The recording hub on ``ledger``, as the federal user ``fed.hub`` of ``settings``' home;
    with no settings, a hub outside any home (a measurement: no credentials, no TLS, copy ids
    of this process). ``kind`` and ``options``: a hub that also measures itself. The hub gets
    its broker (its one NATS connection) built here, and judges under the registry this
    process installed (adapters.environment.install_registry)."""
    from bus.runtime import broker as brokers
    from bus.runtime.hub import Hub
    from schemas.registry import active_registry

    creds = settings.creds_for(HUB) if settings else None
    tls = tls_context(settings) if settings else None
    return (kind or Hub)(
        ledger,
        servers,
        broker=brokers.broker(brokers.hub_options(servers, creds, tls)),
        stream=stream,
        policy=policy,
        registry=active_registry(),
        provision=provision,
        copy_ids=copy_ids(settings) if settings else None,
        **options,
    )


@contextlib.asynccontextmanager
async def recording(
    hub: Hub,
    ledger: SqlLedger,
    *,
    policy: Policy,
    sweep_interval: float,
    relay: bool,
    stopping: Callable[[Stop], Awaitable[None]] | None = None,
) -> AsyncIterator[Hub]:
    """``hub`` started with the deadline sweeper and (with ``relay``) the outbox relay; all
    stopped in reverse on the way out, each through ``stopping`` when given (so that one
    part that cannot stop does not keep the others running)."""
    from adapters.ledger.obligations import SqlObligations
    from adapters.ledger.outbox import Outbox, OutboxRelay
    from bus.runtime.sweeper import Sweeper

    await hub.start()
    stops: list[Stop] = [hub.stop]
    try:
        sweeper = Sweeper(
            SqlObligations(ledger),
            hub.transport,
            policy=policy,
            interval=sweep_interval,
            copy_ids=hub.copy_ids,
        )
        sweeper.start()
        stops.append(sweeper.stop)
        if relay:
            # What `mechbus send` kept while NATS was away goes out now, and as it comes.
            outbox = OutboxRelay(Outbox(ledger), hub.transport, copy_ids=hub.copy_ids)
            outbox.start()
            stops.append(outbox.stop)
        yield hub
    finally:
        for stop in reversed(stops):
            await (stopping(stop) if stopping else stop())
