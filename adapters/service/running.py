"""``mechbus up`` as an operator runs it: one hub per home and per ledger, the embedded
nats-server on a stable address and supervised, credentials applied to the running server, and
one clean stop for Ctrl-C and SIGTERM alike."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from rich.console import Console

from adapters import locks
from adapters.ledger.obligations import SqlObligations
from adapters.ledger.outbox import Outbox, OutboxRelay
from adapters.ledger.store import HubLease, SqlLedger
from adapters.locks import HeldLock
from adapters.natsserver.cluster import EmbeddedNatsCluster
from adapters.natsserver.credentials import HUB, CredentialError, CredentialStore
from adapters.natsserver.server import EmbeddedNatsServer, NatsServerError, free_ports
from adapters.service.demo import CLUSTER_STREAM, server_config
from adapters.settings import Settings
from bus.domain.policy import Policy
from bus.domain.streams import StreamSpec, agency_consumer
from bus.runtime import jetstream
from bus.runtime.hub import Hub
from bus.runtime.sweeper import Sweeper

PREFERRED = ("127.0.0.1", 4222)  # NATS's own port, on loopback, when nobody else has it
RESTARTS_ALLOWED = 5  # restarts of the embedded server within RESTART_WINDOW before giving up
RESTART_WINDOW = 600.0
WATCH_INTERVAL = 0.25  # seconds between looks at the embedded server's process
LEASE_INTERVAL = 5.0  # seconds between checks that the ledger's lease is still ours
DAY = 86400.0


class UpError(RuntimeError):
    """``mechbus up`` cannot start or cannot go on; the message says why."""


# -- the address ---------------------------------------------------------------------------


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:4222`` for IPv6) as a host and a port."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UpError(f"not an address to listen on: {text!r} (want HOST:PORT, e.g. 0.0.0.0:4222)")
    return host, int(port)


def _port_taken(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as nats-server binds: a port left in TIME_WAIT by our own last run counts as free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise UpError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return False


def listen_address(settings: Settings, console: Console) -> tuple[str, int]:
    """``--listen`` if given, else the address recorded in the home at the first start (NATS's
    4222 on loopback when free, else a free port); refused clearly when its port is taken."""
    if settings.listen:
        host, port = parse_listen(settings.listen)
    elif settings.listen_file.exists():
        host, port = parse_listen(settings.listen_file.read_text(encoding="utf-8"))
    else:
        host, port = PREFERRED
        if _port_taken(host, port):
            port = free_ports(host, 1)[0]
            console.print(f"port {PREFERRED[1]} is taken here: this home's bus uses {port}")
        console.print(f"this home's bus listens on {host}:{port} from now on (see --listen)")
    if _port_taken(host, port):
        raise UpError(
            f"cannot listen on {host}:{port}: port {port} is taken by another process (another "
            f"nats-server?); stop it, or choose the address with --listen HOST:PORT"
        )
    settings.listen_file.write_text(f"{host}:{port}\n", encoding="utf-8")
    return host, port


# -- the embedded servers ------------------------------------------------------------------


@dataclasses.dataclass
class EmbeddedBus:
    """The embedded server, or the three nodes of a cluster, with one way to reload them."""

    nodes: list[EmbeddedNatsServer]
    reload: Callable[[str], None]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)


def _left_running(lock: HeldLock) -> int | None:
    """The nats-server a crashed ``up`` left behind on this home's store, if it still runs."""
    pid = lock.previous.get("server_pid")
    if not isinstance(pid, int):
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return None  # gone (or no /proc: the parent-death signal is Linux-only anyway)
    return pid if command.endswith(b"nats-server") else None


def _start_single(settings: Settings, console: Console, config: str) -> EmbeddedBus:
    host, port = listen_address(settings, console)
    server = EmbeddedNatsServer(
        settings.nats_store,
        host=host,
        port=port,
        extra_config=config,
        store_key=settings.store_key(),
    )
    server.start()  # from the main thread: see EmbeddedNatsServer on the parent-death signal
    console.print(f"[dim]embedded nats-server {server.url} (JetStream in {settings.nats_store})[/]")
    return EmbeddedBus([server], lambda extra: server.reload(extra))


def _start_cluster(settings: Settings, console: Console, config: str) -> EmbeddedBus:
    if settings.listen:
        raise UpError("--listen sets the address of the single embedded server, not a cluster's")
    store = settings.nats_store.with_name("nats-cluster")
    cluster = EmbeddedNatsCluster(store, extra_config=config, store_key=settings.store_key())
    cluster.start()
    for node in cluster.nodes:
        console.print(f"[dim]nats-server {node.server_name} {node.url} ({node.store_dir})[/]")
    return EmbeddedBus(cluster.nodes, cluster.reload)


@contextlib.asynccontextmanager
async def _embedded(
    settings: Settings, console: Console, cluster: bool, lock: HeldLock
) -> AsyncIterator[EmbeddedBus]:
    orphan = _left_running(lock)
    if orphan is not None:  # two servers on one store both acknowledge, and lose, messages
        raise UpError(
            f"the nats-server of an earlier mechbus up on this home still runs (pid {orphan}) "
            "on its store; stop it first"
        )
    start = _start_cluster if cluster else _start_single
    try:
        bus = start(settings, console, server_config(settings, ()))
    except NatsServerError as exc:
        raise UpError(f"the embedded nats-server did not start: {exc}") from None
    try:
        yield bus
    finally:
        for node in bus.nodes:
            node.stop()


class Supervisor:
    """Restarts an embedded server that exited, on its address and store, a bounded number of
    times; past that, or when it cannot start again, says why ``up`` must stop."""

    def __init__(self, nodes: list[EmbeddedNatsServer], console: Console) -> None:
        self.nodes = nodes
        self.console = console
        self._restarts: list[float] = []
        self.restarted = False  # since the owner last looked

    def check(self) -> str | None:
        """Restart what died; the reason to give up, if there is one."""
        for node in self.nodes:
            code = node.exit_code
            if code is not None:
                failure = self._restart(node, code)
                if failure:
                    return failure
        return None

    def _restart(self, node: EmbeddedNatsServer, code: int) -> str | None:
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW]
        what = f"nats-server {node.server_name} on {node.url} exited with code {code}"
        if len(self._restarts) >= RESTARTS_ALLOWED:
            return (
                f"{what}, after {len(self._restarts)} restarts in {RESTART_WINDOW:g}s; giving "
                f"up (its log: {node.log_path})"
            )
        self._restarts.append(now)
        self.console.print(f"[yellow]{what}; starting it again on the same address and store[/]")
        try:
            node.start()
        except NatsServerError as exc:
            return f"{what} and could not start again: {str(exc).splitlines()[0]}"
        self.console.print(f"nats-server {node.server_name} is back on {node.url}")
        self.restarted = True
        return None


# -- the hub and its companions ------------------------------------------------------------


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
    ) -> None:
        self.settings = settings
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
        with self.settings.hold_home() as lock:  # before anything else touches the home
            ledger = self.settings.ledger()
            try:
                with self.settings.lease(ledger) as self._lease:
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
        async with _embedded(self.settings, self.console, self.cluster, lock) as bus:
            await self._with_bus(ledger, lock, bus.url, bus)

    async def _with_bus(
        self, ledger: SqlLedger, lock: HeldLock, url: str, bus: EmbeddedBus | None
    ) -> None:
        store = CredentialStore(self.settings.creds_dir)
        provisioned = set(_issued(store))
        hub = Hub(
            ledger,
            url.split(","),  # every server: the hub moves to another if one is lost
            stream=self.stream(),
            policy=self.policy,
            creds=self.settings.creds_for(HUB),
            tls=self.settings.tls_context(),
            provision=sorted(provisioned - {HUB}),
            copy_ids=self.settings.copy_ids(),
        )
        await hub.start()
        stops: list[Callable[[], Awaitable[None]]] = [hub.stop]
        try:
            sweeper = Sweeper(
                SqlObligations(ledger),
                hub.js,
                policy=self.policy,
                interval=self.sweep_interval,
                copy_ids=hub.copy_ids,
            )
            sweeper.start()
            stops.append(sweeper.stop)
            # What `mechbus send` kept while NATS was away goes out now, and as it comes.
            relay = OutboxRelay(
                Outbox(ledger), hub.js, stream=hub.stream.name, copy_ids=hub.copy_ids
            )
            relay.start()
            stops.append(relay.stop)
            failure = await self._announce_and_watch(hub, lock, url, bus, provisioned)
        finally:
            self.settings.url_file.unlink(missing_ok=True)
            for stop in reversed(stops):
                await self._quietly(stop)
        if failure:
            raise UpError(failure)

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
