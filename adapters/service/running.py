"""``mechbus up`` as an operator runs it: one hub per home and per ledger, the embedded
nats-server on a stable address and supervised, credentials applied to the running server, and
one clean stop for Ctrl-C and SIGTERM alike."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from rich.console import Console

from adapters import locks
from adapters.i18n import _
from adapters.ledger.lease import LEASE_SECONDS, HubLease, Lease, LeaseHeld, LeaseLost
from adapters.ledger.store import SqlLedger
from adapters.locks import HeldLock
from adapters.natsserver.credentials import HUB, CredentialError, CredentialStore
from adapters.natsserver.server import NatsServerError
from adapters.observability import http as health
from adapters.observability.probe import NatsProbe
from adapters.observability.watched import hub_watched
from adapters.service import compose
from adapters.service.embedded import (
    CLUSTER_STREAM,
    EmbeddedBus,
    Supervisor,
    UpError,
    embedded_bus,
    server_config,
)
from adapters.service.roles import HubStatus, Role
from adapters.settings import Settings
from bus.domain.policy import Policy
from bus.domain.streams import StreamSpec, agency_consumer
from bus.runtime import jetstream
from bus.runtime.hub import Hub
from bus.runtime.metrics import HUB_TAKEOVERS

if TYPE_CHECKING:
    from adapters.service.digest import DigestSettings

__all__ = ["DAY", "ROLE_ALL", "ROLE_HUB", "Up", "UpError", "apply_to_running_up"]

WATCH_INTERVAL = 0.25  # seconds between looks at the embedded server's process
STANDBY_INTERVAL = 0.5  # seconds between a standby hub's looks at the ledger's lease
ROLE_ALL, ROLE_HUB = "all", "hub"  # --role: all on this home, or a hub taking turns
DAY = 86400.0


class Up:
    """Everything ``mechbus up`` runs, until a stop is asked for or the bus cannot go on."""

    def __init__(
        self,
        settings: Settings,
        console: Console,
        policy: Policy,
        *,
        sweep_interval: float,
        cluster: bool,
        digest: DigestSettings | None = None,
        http: health.Listen | None = None,
        role: str = ROLE_ALL,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.http = http  # where /healthz, /readyz and /metrics are served (None: nowhere)
        self.status = HubStatus()
        self.settings = settings
        self.digest = digest  # mailed daily where the sweeper runs, here
        self.console = console
        self.policy = policy
        self.sweep_interval = sweep_interval
        self.cluster = cluster
        self.role = role
        self.lease_seconds = lease_seconds
        self.status = HubStatus()
        self._wake = asyncio.Event()
        self._lease = HubLease()
        self._applied = ""  # the fingerprint of the credentials the server has
        self._stop_asked = False
        self._reload_asked = False

    def stream(self) -> StreamSpec:
        base = CLUSTER_STREAM if self.cluster else StreamSpec()
        return dataclasses.replace(base, max_age_seconds=self.settings.retention_days * DAY)

    async def run(self) -> None:
        """Serve until Ctrl-C or SIGTERM (then return), or raise ``UpError`` or ``HubRunning``."""
        self._catch_signals()
        with compose.hold_home(self.settings) as lock:  # before anything else touches the home
            ledger = compose.open_ledger(self.settings, migrate=True)  # up owns its ledger
            try:
                if self.role == ROLE_HUB:  # a standby answers /readyz too
                    async with self._health(ledger):
                        await self._take_turns(ledger, lock)
                else:  # the lease first: a second hub is refused for that, not for a port
                    lease = compose.lease(ledger, seconds=self.lease_seconds, renew=False)
                    with lease as self._lease:
                        async with self._health(ledger):
                            self._became_active()
                            await self._serve(ledger, lock)
            finally:
                self.status.become(Role.STOPPING)
                ledger.close()

    async def _take_turns(self, ledger: SqlLedger, lock: HeldLock) -> None:
        """Stand by until the ledger's lease lapses, take it and be the hub; lose it and stand
        by again; until a stop is asked for."""
        lease = Lease(ledger.engine, seconds=self.lease_seconds)
        self._lease = lease
        try:
            async with self._standby_nats() as probe:
                self.status.standby_nats = probe.problem
                await self._take_turns_with(lease, ledger, lock)
        finally:
            self.status.standby_nats = None
            await asyncio.to_thread(lease.release)
            lease.unfence()

    def _standby_nats(self) -> NatsProbe:
        """The standby's own connection to NATS, for its /readyz (see NatsProbe)."""
        from adapters.service.actions import connect_as_hub

        url = self.settings.nats_url
        assert url is not None  # --role hub needs --nats-url
        return NatsProbe(lambda: connect_as_hub(self.settings, url, "mechbus-standby"))

    async def _take_turns_with(self, lease: Lease, ledger: SqlLedger, lock: HeldLock) -> None:
        while await self._stand_by(lease):
            self._became_active()
            try:
                await self._serve(ledger, lock)
                return
            except LeaseLost as lost:
                # The hub, sweeper and relay are stopped already; their commits were fenced
                # from the moment the epoch moved, so nothing was written since.
                said = _("lease lost to {holder}; stepping down")
                self.console.print(said.format(holder=_holder_of(lost, lease)))

    async def _stand_by(self, lease: Lease) -> bool:
        """Poll the lease until this process takes it (True) or a stop is asked for (False)."""
        self.status.become(Role.STANDBY)
        said = None
        while not self._stop_asked:
            try:
                epoch = await asyncio.to_thread(lease.take)
            except LeaseHeld:
                held = await self._holding(lease)
                self.status.holder = held
                if held != said and held is not None:
                    said_now = _("standing by: the ledger's lease is held by {holder}")
                    self.console.print(said_now.format(holder=held))
                    said = held
            except Exception as exc:  # the database is away: nobody can record; look again
                if said != "unreachable":
                    unreachable = _("standing by: the ledger is unreachable: {reason}")
                    self.console.print(f"[yellow]{unreachable.format(reason=exc)}[/]")
                    said = "unreachable"
            else:
                self.console.print(
                    _("took over the ledger's lease (epoch {epoch})").format(epoch=epoch)
                )
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), STANDBY_INTERVAL)
            self._wake.clear()
        return False

    async def _holding(self, lease: Lease) -> str | None:
        with contextlib.suppress(Exception):
            held = await asyncio.to_thread(lease.holding)
            return held.holder if held else None
        return None

    def _became_active(self) -> None:
        self.status.holder = getattr(self._lease, "holder", None)
        HUB_TAKEOVERS.inc()

    def _catch_signals(self) -> None:
        """Ctrl-C and SIGTERM stop the same clean way; SIGHUP (from ``mechbus creds``) asks to
        apply the credentials again. Caught from the start, so none kills ``up`` half-way."""
        loop = asyncio.get_running_loop()
        for stop in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop, self._ask, "stop")
        loop.add_signal_handler(signal.SIGHUP, self._ask, "reload")

    def _ask(self, what: str) -> None:
        if what == "stop":
            self._stop_asked = True
        else:
            self._reload_asked = True
        self._wake.set()

    async def _serve(self, ledger: SqlLedger, lock: HeldLock) -> None:
        # Read before the server's authorization is written from the same file, so that what
        # `up` later records as applied is never newer than what the server got.
        self._applied = CredentialStore(self.settings.creds_dir).digest()
        if self.settings.nats_url:
            await self._with_bus(ledger, lock, self.settings.nats_url, None)
            return
        async with embedded_bus(self.settings, self.console, self.cluster, lock) as bus:
            await self._with_bus(ledger, lock, bus.url, bus)

    async def _with_bus(
        self, ledger: SqlLedger, lock: HeldLock, url: str, bus: EmbeddedBus | None
    ) -> None:
        store = CredentialStore(self.settings.creds_dir)
        provisioned = set(_issued(store))
        hub = compose.hub(
            self.settings,
            ledger,
            url.split(","),  # every server: the hub moves to another if one is lost
            policy=self.policy,
            provision=sorted(provisioned - {HUB}),
            stream=self.stream(),
        )
        async with compose.recording(
            hub,
            ledger,
            policy=self.policy,
            sweep_interval=self.sweep_interval,
            relay=True,
            stopping=self._quietly,
        ):
            self.status.become(Role.ACTIVE, hub=hub)
            daily = self._daily_digest(ledger)
            try:
                failure = await self._announce_and_watch(hub, lock, url, bus, provisioned)
            finally:
                if not self._stop_asked:
                    self.status.become(Role.STOPPING)
                self.settings.url_file.unlink(missing_ok=True)
                if daily is not None:
                    daily[0].set()
                    await daily[1]
        if failure:
            raise UpError(failure)

    @contextlib.asynccontextmanager
    async def _health(self, ledger: SqlLedger) -> AsyncIterator[None]:
        """/healthz, /readyz and /metrics on a port of their own while ``up`` runs."""
        if self.http is None:
            yield
            return
        try:
            sock = health.bind(self.http)
        except OSError as exc:
            where = f"{self.http.host}:{self.http.port}"
            raise UpError(f"health and metrics cannot listen on {where}: {exc.strerror}") from None
        watched = hub_watched(ledger, self.status, self.http.max_pending)
        async with health.serving(sock, watched) as url:
            self.console.print(_("health and metrics on {url}").format(url=url))
            yield

    def _daily_digest(self, ledger: SqlLedger) -> tuple[asyncio.Event, asyncio.Task[None]] | None:
        """The daily digest's task, when recipients are set: (its stop flag, the task)."""
        if self.digest is None:
            return None
        from adapters.service.digest import DailyDigest

        stop = asyncio.Event()
        schedule = DailyDigest(ledger, self.digest, self.policy.board_cutoff())
        self.console.print(
            f"daily digest to {', '.join(self.digest.recipients)} at "
            f"{self.digest.at:%H:%M} Mexico City time"
        )
        return stop, asyncio.create_task(schedule.run(stop))

    async def _announce_and_watch(
        self, hub: Hub, lock: HeldLock, url: str, bus: EmbeddedBus | None, provisioned: set[str]
    ) -> str | None:
        if bus is not None:
            self.settings.url_file.write_text(url, encoding="utf-8")
        lock.record(listen=url, credentials=self._applied, server_pid=_server_pid(bus))
        retention = self.settings.retention_days
        kept = f"{retention:g} days" if retention else "forever"
        self.console.print(f"hub up on {url}, ledger {self.settings.ledger_url}; Ctrl-C stops")
        self.console.print(
            f"deadline policy: {self.policy.origin}; sweeping every {self.sweep_interval}s"
        )
        self.console.print(f"the stream keeps each message {kept}")
        supervisor = Supervisor(bus.nodes if bus else [], self.console)
        renewed = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), WATCH_INTERVAL)
            self._wake.clear()
            if self._stop_asked:
                self.status.become(Role.STOPPING, hub=hub)
                self.console.print("stopping")
                return None
            failure = supervisor.check()
            if failure:
                return failure
            if supervisor.restarted:
                supervisor.restarted = False
                lock.record(server_pid=_server_pid(bus))
            if self._reload_asked:
                self._reload_asked = False
                await self._apply_credentials(hub, lock, bus, provisioned)
            if time.monotonic() - renewed > self.lease_seconds / 4:
                await self._renew()  # LeaseLost: another hub has it now
                renewed = time.monotonic()

    async def _renew(self) -> None:
        """Renew the lease, or raise ``LeaseLost``. A database that does not answer is tried
        again at the next turn: if another hub took over meanwhile, the renewal that gets
        through says so, and no commit of this one got through in between (fenced)."""
        try:
            await asyncio.wait_for(asyncio.to_thread(self._lease.renew), self.lease_seconds)
        except LeaseLost:
            raise
        except Exception as exc:
            said = _("could not renew the ledger's lease: {reason}").format(reason=exc)
            self.console.print(f"[yellow]{said}[/]")

    async def _apply_credentials(
        self, hub: Hub, lock: HeldLock, bus: EmbeddedBus | None, provisioned: set[str]
    ) -> None:
        """Give the running server the credentials as they are now: a revoked agency is cut
        off, a new one can connect and finds its consumer; nobody else is disturbed."""
        store = CredentialStore(self.settings.creds_dir)
        digest = store.digest()
        try:
            if bus is not None:
                bus.reload(server_config(self.settings, ()))
            for agency in sorted(set(_issued(store)) - provisioned - {HUB}):
                await jetstream.ensure_consumer(hub.js, hub.stream, agency_consumer(agency))
                provisioned.add(agency)
        except (CredentialError, NatsServerError, OSError) as exc:
            self.console.print(f"[red]credentials not applied: {exc}[/]")
            lock.record(refused=digest)
            return
        lock.record(credentials=digest)
        self.console.print(f"credentials applied: {len(_issued(store))} users")

    async def _quietly(self, stop: Callable[[], Awaitable[None]]) -> None:
        """Stop one part; a part that cannot stop cleanly (its server is gone) is reported in
        one line, and the others are still stopped."""
        try:
            await asyncio.wait_for(stop(), 30.0)
        except Exception as exc:  # whatever it was, the rest must still stop
            self.console.print(f"[yellow]while stopping: {type(exc).__name__}: {exc}[/]")


def _holder_of(lost: LeaseLost, lease: Lease) -> str:
    """The hub that took the lease over, as the database says (the error's words otherwise)."""
    with contextlib.suppress(Exception):
        held = lease.holding()
        if held is not None:
            return str(held)
    return str(lost)


def _server_pid(bus: EmbeddedBus | None) -> int | None:
    """The single embedded server's pid, for a later ``up`` to check after a crash."""
    return bus.nodes[0].pid if bus is not None and len(bus.nodes) == 1 else None


def _issued(store: CredentialStore) -> list[str]:
    return sorted(store.issued()) if store.users_file.exists() else []


def apply_to_running_up(settings: Settings, timeout: float = 30.0) -> int | None:
    """Have the ``mechbus up`` running on this home apply the credentials as they are now, and
    wait until it has; its pid, or None when none runs (the next start applies them)."""
    running = locks.holder(settings.up_lock)
    if running is None:
        return None
    pid = int(str(running.get("pid")))
    digest = CredentialStore(settings.creds_dir).digest()
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while (running := locks.holder(settings.up_lock) or {}).get("credentials") != digest:
        if running.get("refused") == digest:
            raise UpError(f"mechbus up (pid {pid}) could not apply them: see its output")
        if not running or time.monotonic() > deadline:
            raise UpError(f"mechbus up (pid {pid}) did not confirm within {timeout:g}s")
        time.sleep(0.05)  # polling a file another process rewrites; nothing to wait on
    return pid
