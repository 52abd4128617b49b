"""Supervision, signals and a stable address: SIGTERM as Ctrl-C, the same address after a
restart, a killed server brought back, and saying why when it cannot be."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from adapters.ledger.store import sqlite_url
from tests.cli_processes import wait_until_gone
from tests.operating.up import (
    UpProcess,
    connect_as,
    free_port,
    mechbus,
    recorded,
    send_patrol,
    server_pid,
    start,
    url_of,
    url_of_last_run,
    watched,
    words,
)

pytestmark = pytest.mark.e2e


def test_sigterm_stops_up_exactly_as_ctrl_c(tmp_path: Path, ups: list[UpProcess]) -> None:
    home = tmp_path / "home"
    for stop in (signal.SIGTERM, signal.SIGINT):
        up = start(ups, home)
        assert up.stop(stop) == 0, up.output
        assert "Traceback" not in up.output and "stopped cleanly" in up.output
        assert not (home / "nats.url").exists()
        wait_until_gone(str(home / "nats"))


async def test_up_keeps_its_address_and_names_a_taken_port(
    tmp_path: Path, ups: list[UpProcess]
) -> None:
    home = tmp_path / "home"
    assert mechbus(home, "creds", "issue", "gro.government").returncode == 0
    up = await asyncio.to_thread(start, ups, home)
    listen = (home / "nats.listen").read_text().strip()
    host, port = listen.rsplit(":", 1)
    assert host == "127.0.0.1" and f"listens on {listen}" in up.output
    assert url_of(home) == f"nats://{listen}"
    events = watched()
    agency = await connect_as(home, "gro.government", events)  # configured once, as agencies are
    try:
        assert await asyncio.to_thread(up.stop, signal.SIGTERM) == 0
        await asyncio.wait_for(events["disconnected"].wait(), 30)
        again = await asyncio.to_thread(start, ups, home)
        assert url_of_last_run(again) == f"nats://{listen}"  # the same address again
        await asyncio.wait_for(events["reconnected"].wait(), 30)  # so the agency is back
        await asyncio.wait_for(agency.flush(), 10)
    finally:
        await agency.close()
    assert await asyncio.to_thread(again.stop) == 0

    with socket.socket() as squatter:  # someone else takes the port between two runs
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", int(port)))
        squatter.listen()
        taken = await asyncio.to_thread(mechbus, home, "up")
    assert taken.returncode != 0 and f"port {port} is taken" in words(taken.stdout), taken.stdout
    assert "--listen" in taken.stdout

    chosen = f"127.0.0.1:{free_port()}"
    await asyncio.to_thread(start, ups, home, "--listen", chosen)
    assert url_of(home) == f"nats://{chosen}"


async def test_up_restarts_its_server_and_agencies_come_back(
    tmp_path: Path, ups: list[UpProcess]
) -> None:
    home = tmp_path / "home"
    assert mechbus(home, "creds", "issue", "gro.government").returncode == 0
    up = await asyncio.to_thread(start, ups, home)
    url = url_of(home)
    events = watched()
    agency = await connect_as(home, "gro.government", events)
    try:
        os.kill(server_pid(home), signal.SIGKILL)
        await asyncio.wait_for(events["disconnected"].wait(), 30)
        await asyncio.to_thread(up.wait_for, "is back on")
        await asyncio.wait_for(events["reconnected"].wait(), 30)  # to the one address it knows
        await asyncio.wait_for(agency.flush(), 30)
        assert agency.is_connected and url_of(home) == url
        await asyncio.to_thread(send_patrol, home)
        ledger = sqlite_url(home / "ledger.db")
        deadline = time.monotonic() + 30
        while recorded(ledger) < 1:
            assert time.monotonic() < deadline, "the hub records nothing after the restart"
            await asyncio.sleep(0.05)
    finally:
        await agency.close()
    assert await asyncio.to_thread(up.stop) == 0
    assert "Traceback" not in up.output


def test_ctrl_c_just_after_the_server_died_stops_cleanly(
    tmp_path: Path, ups: list[UpProcess]
) -> None:
    home = tmp_path / "home"
    up = start(ups, home)
    os.kill(server_pid(home), signal.SIGKILL)
    assert up.stop(signal.SIGINT) == 0, up.output
    assert "Traceback" not in up.output and not (home / "nats.url").exists()


def test_up_exits_saying_why_when_its_server_cannot_come_back(
    tmp_path: Path, ups: list[UpProcess]
) -> None:
    home = tmp_path / "home"
    up = start(ups, home)
    port = int((home / "nats.listen").read_text().strip().rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        os.kill(server_pid(home), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:  # take its port the moment it is free, before up can start it again
            try:
                squatter.bind(("127.0.0.1", port))
                break
            except OSError:
                assert time.monotonic() < deadline
        squatter.listen()
        code = up.proc.wait(60)
    assert code != 0
    said = words(up.output)
    assert "exited with code" in said and "could not start again" in said, up.output
    assert "Traceback" not in up.output and not (home / "nats.url").exists()
