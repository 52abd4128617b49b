"""A hub standing by on a SQLite ledger, as an operator and Prometheus see it: its /readyz says
it could take over (its own look at NATS), its metrics name the active hub, it takes over from
a killed one and records, and with NATS gone every hub's /readyz says so."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from adapters.ledger.store import sqlite_url
from adapters.natsserver.server import EmbeddedNatsServer
from adapters.service import compose
from adapters.settings import load_settings
from bus.domain.federal import MECHANISM
from bus.runtime.agency import AgencyClient
from tests import builders as b
from tests.cli_processes import wait_until_gone
from tests.test_takeover import HubProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.usefixtures("english_cli")]

TAKEOVER = 10.0  # seconds from the active hub's death to a new message in the ledger


def health_url(hub: HubProcess) -> str:
    hub.wait_for("health and metrics on", 60)
    found = next(re.search(r"(http://\S+/)", line) for line in hub.lines if "health" in line)
    assert found is not None, hub.output
    return found.group(1)


def readiness(url: str) -> tuple[int, str]:
    answer = httpx.get(url + "readyz", timeout=10)
    return answer.status_code, answer.text


def metric(url: str, name: str) -> str:
    exposition = httpx.get(url + "metrics", timeout=10).text
    return "\n".join(line for line in exposition.splitlines() if line.startswith(name))


def until_ready_says(url: str, status: int, words: str, timeout: float = 30.0) -> str:
    """Poll /readyz with a deadline until it answers ``status`` with ``words`` in it."""
    deadline = time.monotonic() + timeout
    while True:
        code, body = readiness(url)
        if code == status and words in body:
            return body
        assert time.monotonic() < deadline, f"/readyz still {code} {body}"
        time.sleep(0.1)  # another process's state: polled with the deadline above


@pytest.fixture
def homes(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """Two homes with the same keys (the second a copy of the first's creds/) and one ledger."""
    first, second = tmp_path / "first", tmp_path / "second"
    settings = load_settings(home=first)
    compose.sealer(settings)
    compose.copy_ids(settings)
    shutil.copytree(settings.creds_dir, second / "creds")
    yield first, second, sqlite_url(tmp_path / "ledger.db")
    wait_until_gone(str(tmp_path))


def recorded(ledger_url: str, message_id: str) -> bool:
    engine = create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM messages WHERE source = :source AND message_id = :id"),
                {"source": MECHANISM, "id": message_id},
            ).first()
    finally:
        engine.dispose()
    return found is not None


async def send_and_time(url: str, ledger_url: str, timeout: float) -> float:
    """Send a request as the Mechanism; seconds until the ledger holds it."""
    request = b.patrol_request(at=datetime.now(UTC))
    began = time.monotonic()
    async with await AgencyClient.connect(url, MECHANISM) as mechanism:
        await mechanism.send(request)
    while not await asyncio.to_thread(recorded, ledger_url, request.id):
        assert time.monotonic() - began < timeout, f"{request.id} not recorded in {timeout} s"
        await asyncio.sleep(0.05)  # another process writes the ledger: polled with a deadline
    return time.monotonic() - began


async def test_a_standby_on_sqlite_is_ready_takes_over_and_says_when_nats_is_gone(
    nats_server: EmbeddedNatsServer,
    homes: tuple[Path, Path, str],
    figures: Callable[[str], None],
) -> None:
    first, second, ledger_url = homes
    args = ["--nats-url", nats_server.url, "--ledger-url", ledger_url, "--http-listen", ":0"]
    active = HubProcess(first, args)
    hubs = [active]
    try:
        active.wait_for("hub up on", 60)
        standby = HubProcess(second, args)
        hubs.append(standby)
        standby.wait_for("standing by: the ledger's lease is held by", 60)
        active_url, standby_url = health_url(active), health_url(standby)

        # Both ready: one recording, one standing by with NATS within reach.
        assert readiness(active_url)[0] == 200
        until_ready_says(standby_url, 200, '"ok"')
        assert metric(active_url, "mechbus_hub_active ").endswith(" 1.0")
        assert metric(standby_url, "mechbus_hub_active ").endswith(" 0.0")
        holder = metric(standby_url, "mechbus_hub_lease_holder_info")
        assert f"mechbus hub pid {active.pid} on" in holder, holder
        await send_and_time(nats_server.url, ledger_url, 30)

        # The active one dies: the standby takes over and records.
        killed = time.monotonic()
        active.kill()
        standby.wait_for("took over the ledger's lease", 30)
        await send_and_time(nats_server.url, ledger_url, 30)
        took = time.monotonic() - killed
        assert took < TAKEOVER
        assert metric(standby_url, "mechbus_hub_active ").endswith(" 1.0")
        assert metric(standby_url, "mechbus_hub_takeovers_total").endswith(" 1.0")
        figures(f"SQLite ledger: SIGKILL of the active hub to a new message recorded {took:.1f} s")

        # The killed one comes back as the standby; then NATS goes away under both.
        again = HubProcess(first, args)
        hubs.append(again)
        again.wait_for("standing by", 60)
        again_url = health_url(again)
        until_ready_says(again_url, 200, '"ok"')
        nats_server.stop()
        for url in (standby_url, again_url):
            body = until_ready_says(url, 503, "nats")
            assert '"status": "unavailable"' in body or '"status":"unavailable"' in body, body
    finally:
        for hub in hubs:
            hub.stop()
