"""One hub per home and one per ledger: a second ``up`` refused, a crashed one taken over, a
server left behind not joined, a lease lost to another hub, the lock naming its holder."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from adapters.ledger.store import sqlite_url
from adapters.natsserver.server import EmbeddedNatsServer
from tests.cli_processes import processes_mentioning, wait_until_gone
from tests.operating.up import (
    UpProcess,
    is_nats_server,
    mechbus,
    recorded,
    send_patrol,
    server_pid,
    start,
    url_of,
    wait_until,
    words,
)

pytestmark = pytest.mark.e2e


def test_a_second_up_on_one_home_is_refused_and_a_crashed_one_is_taken_over(
    tmp_path: Path, ups: list[UpProcess], figures: Callable[[str], None]
) -> None:
    home = tmp_path / "home"
    first = start(ups, home)
    url = url_of(home)
    began = time.monotonic()
    second = mechbus(home, "up")
    assert second.returncode != 0, second.stdout
    took = time.monotonic() - began
    figures(f"a second up on the home refused in {took:.1f} s (exit {second.returncode})")
    assert took < 30  # at once: it does not start anything first
    said = words(second.stdout + second.stderr)
    assert "already running" in said and f"pid {first.proc.pid}" in said and url in said, said
    assert first.proc.poll() is None and url_of(home) == url
    assert len([p for p in processes_mentioning(str(home / "nats")) if is_nats_server(p)]) == 1

    first.proc.kill()  # a crash: no clean stop, the lock file stays behind
    first.proc.wait()
    wait_until_gone(str(home / "nats"))
    again = start(ups, home)
    assert url_of(home) == url  # the same address as before the crash
    send_patrol(home)
    wait_until(lambda: recorded(sqlite_url(home / "ledger.db")) >= 1, "the request is recorded")
    assert again.stop() == 0


def test_a_server_left_behind_by_a_crash_is_not_joined_by_another(
    tmp_path: Path, ups: list[UpProcess]
) -> None:
    """Should a crashed up's nats-server outlive it, the next up does not start a second server
    on the same store: it names the one left running."""
    home = tmp_path / "home"
    first = start(ups, home)
    facts = json.loads((home / "up.lock").read_text())
    assert facts["server_pid"] == server_pid(home)
    assert first.stop() == 0
    with EmbeddedNatsServer(tmp_path / "left-behind") as left:  # stands for the survivor
        survivor = left.pid
        crashed = {**facts, "server_pid": survivor}
        (home / "up.lock").write_text(json.dumps(crashed))  # what the crashed up had written
        refused = mechbus(home, "up")
    said = words(refused.stdout)
    assert refused.returncode == 1 and f"still runs (pid {survivor})" in said, refused.stdout
    assert not (home / "nats.url").exists()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_two_hubs_never_record_into_one_ledger(
    backend: str, tmp_path: Path, ups: list[UpProcess], request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        ledger_url = sqlite_url(tmp_path / "shared" / "ledger.db")
        (tmp_path / "shared").mkdir()
    else:
        ledger_url = str(request.getfixturevalue("pg_url"))
    one, other = tmp_path / "one", tmp_path / "other"
    first = start(ups, one, MECHBUS_LEDGER_URL=ledger_url)
    refused = mechbus(other, "up", "--ledger-url", ledger_url)
    said = words(refused.stdout + refused.stderr)
    assert refused.returncode != 0 and "another hub is recording" in said, said
    assert f"pid {first.proc.pid}" in said, said
    assert not (other / "nats.url").exists()

    for _ in range(3):  # the first goes on recording, alone
        send_patrol(one, MECHBUS_LEDGER_URL=ledger_url)
    wait_until(lambda: recorded(ledger_url) >= 3, "the first hub records")
    assert first.stop() == 0
    verified = mechbus(one, "audit", "verify", "--ledger-url", ledger_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # once the first has stopped, the lease is free for another home's hub
    start(ups, other, MECHBUS_LEDGER_URL=ledger_url)


@pytest.mark.postgres
def test_a_hub_that_loses_its_lease_to_another_stops(
    pg_url: str, tmp_path: Path, ups: list[UpProcess]
) -> None:
    """Another hub takes the lease over (as after this one was paused past its lease): the
    first notices at its next renewal and stops, instead of recording beside it."""
    home = tmp_path / "home"
    up = start(ups, home, MECHBUS_LEDGER_URL=pg_url)
    admin = create_engine(pg_url)
    rival = f"mechbus hub pid {os.getpid()} on {socket.gethostname()}"
    try:
        with admin.begin() as conn:
            taken = conn.execute(
                text(
                    "UPDATE hub_lease SET epoch = epoch + 1, holder = :rival, "
                    "expires_at = expires_at + 3600 WHERE name = 'hub'"
                ),
                {"rival": rival},
            ).rowcount
        assert taken == 1
        code = up.proc.wait(60)
    finally:
        admin.dispose()
    assert code == 1, up.output
    said = words(up.output)
    assert "lost its lease" in said and f"pid {os.getpid()}" in said, up.output
    assert "Traceback" not in up.output


def test_the_lock_names_its_holder(tmp_path: Path, ups: list[UpProcess]) -> None:
    home = tmp_path / "home"
    up = start(ups, home)
    facts = json.loads((home / "up.lock").read_text())
    assert facts["pid"] == up.proc.pid and facts["listen"] == url_of(home)
