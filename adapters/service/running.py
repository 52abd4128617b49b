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
from adapters.ledger.store import HubLease, SqlLedger
from adapters.locks import HeldLock
from adapters.natsserver.credentials import HUB, CredentialError, CredentialStore
from adapters.natsserver.server import NatsServerError
from adapters.observability import http as health
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

if TYPE_CHECKING:
    from adapters.service.digest import DigestSettings

__all__ = ["DAY", "Up", "UpError", "apply_to_running_up"]

WATCH_INTERVAL = 0.25  # seconds between looks at the embedded server's process
LEASE_INTERVAL = 5.0  # seconds between checks that the ledger's lease is still ours
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
    ) -> None:
        self.http = http  # where /healthz, /readyz and /metrics are served (None: nowhere)
        self.status = HubStatus()
        self.settings = settings
        self.digest = digest  # mailed daily where the sweeper runs, here
        self.console = console
        self.policy = policy
        self.sweep_interval = sweep_interval
        self.cluster = cluster
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
                with compose.lease(ledger) as self._lease:
                    async with self._health(ledger):
                        await self._serve(ledger, lock)
            finally:
                ledger.close()

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
        lease_checked = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), WATCH_INTERVAL)
            self._wake.clear()
            if self._stop_asked:
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
            if time.monotonic() - lease_checked > LEASE_INTERVAL:
                await asyncio.to_thread(self._lease.check)  # LeaseHeld: another hub has it now
                lease_checked = time.monotonic()

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
