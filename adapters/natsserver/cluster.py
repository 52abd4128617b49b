"""A JetStream cluster of embedded nats-servers on loopback, for streams kept on three nodes."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
from pathlib import Path
from types import TracebackType
from typing import Self

from adapters.natsserver.binary import NatsServerError, find_nats_server
from adapters.natsserver.server import (
    HTTP_TIMEOUT,
    LOOPBACK_HTTP,
    EmbeddedNatsServer,
    conf_str,
    free_ports,
    host_port,
)

__all__ = ["EmbeddedNatsCluster"]


class EmbeddedNatsCluster:
    """A JetStream cluster of ``size`` nats-server nodes on loopback, for R3 streams.

    Each node is an ``EmbeddedNatsServer`` under ``store_dir/node-<i>`` (its own client port,
    monitoring port, JetStream store and ``server_name`` ``<name>-<i>``) with a ``cluster``
    block routing to the others. Route ports must be written into every config before any
    node runs, so they are chosen free up front and the whole start is retried on a clash.
    ``extra_config`` (authorization, TLS) is the same on every node and covers clients only.
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        size: int = 3,
        host: str = "127.0.0.1",
        name: str = "mechbus",
        extra_config: str = "",
        binary: Path | None = None,
        store_key: str | None = None,
    ) -> None:
        self.store_dir: Path = Path(store_dir).resolve()
        self.size, self.host, self.name = size, host, name
        self.extra_config: str = extra_config
        self.store_key: str | None = store_key
        self._blocks: list[str] = []
        self.binary: Path = find_nats_server() if binary is None else Path(binary)
        self.nodes: list[EmbeddedNatsServer] = []

    def _configure(self) -> None:
        routes = free_ports(self.host, self.size)
        self._blocks = [self._cluster_block(routes, i) for i in range(self.size)]
        self.nodes = [
            EmbeddedNatsServer(
                self.store_dir / f"node-{i}",
                host=self.host,
                server_name=f"{self.name}-{i}",
                extra_config=self._blocks[i] + self.extra_config,
                binary=self.binary,
                ready_check="",  # the full check: a meta leader is known and this node is current
                store_key=self.store_key,
            )
            for i in range(self.size)
        ]

    def _cluster_block(self, routes: list[int], i: int) -> str:
        others = [
            conf_str(f"nats-route://{host_port(self.host, port)}")
            for j, port in enumerate(routes)
            if j != i
        ]
        return (
            "cluster {\n"
            f"  name: {conf_str(self.name)}\n"
            f"  listen: {conf_str(host_port(self.host, routes[i]))}\n"
            f"  routes: [{', '.join(others)}]\n"
            "}\n"
        )

    @property
    def urls(self) -> list[str]:
        """Every node's client URL (give clients all of them); stable across ``restart``."""
        if not self.nodes:
            raise NatsServerError("the nats-server cluster has not been started yet")
        return [node.url for node in self.nodes]

    def start(self, timeout: float = 30.0, attempts: int = 3) -> list[str]:
        """Start every node, wait until each is healthy (so a meta leader is elected and
        known to all), and return the client URLs."""
        for attempt in range(1, attempts + 1):
            if not self.nodes or attempt > 1:  # a started-then-stopped cluster keeps its ports
                self._configure()
            deadline = time.monotonic() + timeout
            try:
                for node in self.nodes:
                    if not node.running:
                        node.launch()
                for node in self.nodes:
                    node.wait_ready(deadline)
                return self.urls
            except BaseException as exc:
                self.stop()
                # Another process took a route port between choosing and binding: choose again.
                if attempt == attempts or "address already in use" not in str(exc):
                    raise
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every node (SIGTERM, SIGKILL after ``timeout``); safe when already stopped."""
        for node in self.nodes:
            node.stop(timeout)

    def reload(self, extra_config: str) -> None:
        """Give every running node new client settings (authorization, TLS) and reload it."""
        self.extra_config = extra_config
        for block, node in zip(self._blocks, self.nodes, strict=True):
            if node.running:
                node.reload(block + extra_config)
            else:  # applied when the supervisor starts it again
                node.extra_config = block + extra_config

    def kill(self, i: int) -> None:
        """SIGKILL node ``i`` (a crash); its store stays for ``restart``."""
        self.nodes[i].kill()

    def restart(self, i: int, timeout: float = 30.0) -> str:
        """(Re)start node ``i`` on its old ports and store; return once it has rejoined and
        caught up (its full health check passes)."""
        return self.nodes[i].restart(timeout)

    def index_of(self, server_name: str) -> int:
        """The node called ``server_name`` (as in a stream's or consumer's ``cluster.leader``)."""
        for i, node in enumerate(self.nodes):
            if node.server_name == server_name:
                return i
        raise KeyError(server_name)

    def meta_leader(self) -> str | None:
        """The JetStream meta leader's server name as a running node reports it, or None."""
        for node in self.nodes:
            if node.running:
                with contextlib.suppress(urllib.error.URLError, OSError):
                    with LOOPBACK_HTTP.open(
                        f"{node.monitor_url}/jsz", timeout=HTTP_TIMEOUT
                    ) as resp:
                        leader = json.loads(resp.read()).get("meta_cluster", {}).get("leader")
                    if leader:
                        return str(leader)
        return None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedNatsCluster({str(self.store_dir)!r}, nodes={self.nodes!r})"
