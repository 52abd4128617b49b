"""The embedded nats-servers of a home: one server or a three-node cluster, with the home's
credentials and TLS in their configuration, on a stable address, and restarted when one exits."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from rich.console import Console

from adapters.locks import HeldLock
from adapters.natsserver.cluster import EmbeddedNatsCluster
from adapters.natsserver.credentials import CredentialStore
from adapters.natsserver.server import EmbeddedNatsServer, NatsServerError, free_ports
from adapters.service import compose
from adapters.settings import Settings
from bus.domain.errors import ServiceError
from bus.domain.federal import BOARD, HUB, MECHANISM, RECEPTION, RISK
from bus.domain.streams import StreamSpec

PREFERRED = ("127.0.0.1", 4222)  # NATS's own port, on loopback, when nobody else has it
RESTARTS_ALLOWED = 5  # restarts of the embedded server within RESTART_WINDOW before giving up
RESTART_WINDOW = 600.0


class UpError(ServiceError, RuntimeError):
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
        store_key=compose.store_key(settings),
    )
    server.start()  # from the main thread: see EmbeddedNatsServer on the parent-death signal
    console.print(f"[dim]embedded nats-server {server.url} (JetStream in {settings.nats_store})[/]")
    return EmbeddedBus([server], lambda extra: server.reload(extra))


def _start_cluster(settings: Settings, console: Console, config: str) -> EmbeddedBus:
    if settings.listen:
        raise UpError("--listen sets the address of the single embedded server, not a cluster's")
    store = settings.nats_store.with_name("nats-cluster")
    cluster = EmbeddedNatsCluster(store, extra_config=config, store_key=compose.store_key(settings))
    cluster.start()
    for node in cluster.nodes:
        console.print(f"[dim]nats-server {node.server_name} {node.url} ({node.store_dir})[/]")
    return EmbeddedBus(cluster.nodes, cluster.reload)


@contextlib.asynccontextmanager
async def embedded_bus(
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


FEDERAL_USERS = (HUB, MECHANISM, BOARD, RECEPTION, RISK)


def authorization(settings: Settings, agencies: tuple[str, ...] = ()) -> str:
    """The nats-server ``authorization`` block of this home's credentials: the federal users
    and ``agencies`` get theirs in the home's store (issued once, reused), and every user may
    use only its own subjects. Anonymous connections are refused. The embedded servers get it
    below; servers run apart (a cluster on its own hosts) get it from ``mechbus creds
    authorization``."""
    store = CredentialStore(settings.creds_dir)
    store.init()
    for agency in (*FEDERAL_USERS, *agencies):
        store.ensure(agency)
    return store.server_config()


def server_config(settings: Settings, agencies: tuple[str, ...]) -> str:
    """Authorization (and TLS, once `mechbus creds tls` was run) for the embedded servers."""
    config = authorization(settings, agencies)
    if settings.tls_files.exist():  # every client must use TLS
        config += settings.tls_files.server_config()
    return config


@contextlib.asynccontextmanager
async def nats_for(
    settings: Settings, console: Console, agencies: tuple[str, ...] = ()
) -> AsyncIterator[str]:
    """The given server, or an embedded one that is stopped (and reaped) on the way out.

    The embedded server always requires credentials (see ``server_config``).
    """
    if settings.nats_url:
        yield settings.nats_url
        return
    server = EmbeddedNatsServer(
        settings.nats_store,
        extra_config=server_config(settings, agencies),
        store_key=compose.store_key(settings),
    )
    # Started from this (main) thread: the server's parent-death signal is tied to the thread
    # that started it, and a worker thread may go away before we do.
    url = server.start()
    console.print(f"[dim]embedded nats-server {url} (JetStream in {settings.nats_store})[/]")
    try:
        yield url
    finally:
        server.stop()


CLUSTER_STREAM = StreamSpec(replicas=3)
"""The stream on a three-node cluster: every message on all three nodes' disks."""
