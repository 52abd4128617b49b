"""Nothing lost under faults, against real servers: the hub killed with SIGKILL mid-traffic,
the nats-server restarted, PostgreSQL restarted. Counts are printed for the record."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import func, select

from adapters.ledger.store import SqlLedger, sqlite_url
from adapters.ledger.tables import DeadLetterRow, MessageRow, RecipientRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.runtime.agency import AgencyClient
from tests import builders as b
from tests.ledgers import upgraded_ledger

REQUESTS = 5000


def start_hub(url: str, ledger_url: str, home: Path) -> subprocess.Popen[bytes]:
    """``mechbus up`` against an existing server: the hub (and sweeper) as its own process."""
    env = {**os.environ, "MECHBUS_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "up", "--nats-url", url, "--ledger-url", ledger_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def counts(ledger: SqlLedger) -> dict[str, int]:
    with ledger.session() as s:
        by_type = dict(
            s.exec(select(MessageRow.type, func.count()).group_by(MessageRow.type)).all()
        )
        ids = s.exec(select(func.count(func.distinct(MessageRow.message_id)))).one()
        acked = s.exec(
            select(func.count())
            .select_from(RecipientRow)
            .where(RecipientRow.status == "acknowledged")
        ).one()
    return {
        "requests": by_type.get("mech.request.protection_measure.v1", 0),
        "acknowledgements": by_type.get("mech.response.acknowledgement.v1", 0),
        "rows": sum(by_type.values()),
        "distinct_ids": int(ids),
        "acknowledged_recipients": int(acked),
    }


async def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        # The ledger is written by another process (the killed and restarted hub), so there
        # is no event to wait on here: poll it, with a deadline.
        await asyncio.sleep(0.05)


async def acknowledge_everything(url: str) -> None:
    """An agency that acknowledges every request it gets, as fast as it can, until cancelled."""
    async with await AgencyClient.connect(url, "gro.government") as agency:
        async for request in agency.requests(idle_timeout=0.2):
            await request.acknowledge("Oficialía de partes")


@pytest.mark.e2e
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "ledger_kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_hub_killed_three_times_loses_and_doubles_nothing(
    nats_server: EmbeddedNatsServer,
    tmp_path: Path,
    ledger_kind: str,
    request: pytest.FixtureRequest,
    figures: Callable[[str], None],
) -> None:
    ledger_url = (
        sqlite_url(tmp_path / "ledger.db")
        if ledger_kind == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    ledger = upgraded_ledger(ledger_url)  # creates the schema before the hub starts
    hub = start_hub(nats_server.url, ledger_url, tmp_path / "home")
    try:
        async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
            await wait_for(lambda: _stream_exists(nats_server), 30, "the hub to declare its stream")
            agency = asyncio.create_task(acknowledge_everything(nats_server.url))
            sent = 0
            for kill in range(3):
                batch = [b.patrol_request() for _ in range(REQUESTS // 4)]
                for start in range(0, len(batch), 50):  # 50 publishes in flight at a time
                    await asyncio.gather(*(mechanism.send(r) for r in batch[start : start + 50]))
                sent += len(batch)
                before = ledger.count(MessageRow)
                await wait_for(
                    lambda before=before: ledger.count(MessageRow) > before + 100, 60, "progress"
                )
                hub.send_signal(signal.SIGKILL)  # no goodbye: mid-batch, mid-transaction
                hub.wait()
                print(f"kill {kill + 1}: {sent} sent, {counts(ledger)}")
                hub = start_hub(nats_server.url, ledger_url, tmp_path / "home")
            rest = [b.patrol_request() for _ in range(REQUESTS - sent)]
            await asyncio.gather(*(mechanism.send(r) for r in rest))
            sent += len(rest)
            await wait_for(
                lambda: ledger.count(MessageRow) >= 3 * REQUESTS,
                400,
                "every request, receipt and acknowledgement",
            )
            agency.cancel()
    finally:
        hub.send_signal(signal.SIGTERM)
        hub.wait(30)
    final = counts(ledger)
    figures(
        f"[{ledger_kind}] sent {sent}, recorded {final['requests']} requests and "
        f"{final['acknowledgements']} acknowledgements, duplicates "
        f"{final['rows'] - final['distinct_ids']}, lost {sent - final['requests']} ({final})"
    )
    assert final["requests"] == REQUESTS == sent
    assert final["acknowledgements"] == REQUESTS
    assert final["distinct_ids"] == final["rows"]  # no duplicates
    assert ledger.count(DeadLetterRow) == 0
    ledger.close()


def _stream_exists(nats_server: EmbeddedNatsServer) -> bool:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{nats_server.monitor_url}/jsz?streams=true", timeout=5) as reply:
        return json.load(reply).get("streams", 0) >= 1


@pytest.mark.integration
async def test_nats_server_restart_during_traffic(
    nats_server: EmbeddedNatsServer, tmp_path: Path, figures: Callable[[str], None]
) -> None:
    from bus.runtime.hub import Hub

    ledger = upgraded_ledger(sqlite_url(tmp_path / "ledger.db"))
    hub = Hub(ledger, nats_server.url)
    await hub.start()
    sent = []
    try:
        reconnected = asyncio.Event()

        async def on_reconnect() -> None:
            reconnected.set()

        async with await AgencyClient.connect(
            nats_server.url, "fed.mechanism", reconnected_cb=on_reconnect
        ) as mechanism:
            for i in range(600):
                if i == 300:
                    reconnected.clear()
                    await asyncio.to_thread(nats_server.restart)  # same port; clients reconnect
                request = b.patrol_request()
                for _attempt in range(3):  # a publisher retries, once reconnected, until acked
                    try:
                        await mechanism.send(request)
                        break
                    except Exception:
                        await asyncio.wait_for(reconnected.wait(), 30)
                else:
                    raise AssertionError("never published")
                sent.append(request.id)
        await hub.wait_until(lambda: ledger.count(MessageRow) >= len(sent), 60)
    finally:
        await hub.stop()
    with ledger.session() as s:
        recorded = list(s.exec(select(MessageRow.message_id)))
    figures(
        f"sent {len(sent)}, recorded {len(recorded)} across a nats-server restart, "
        f"duplicates {len(recorded) - len(set(recorded))}, lost {len(set(sent) - set(recorded))}"
    )
    assert sorted(recorded) == sorted(sent)
    ledger.close()


PG_CTL = shutil.which("pg_ctlcluster")


@pytest.mark.integration
@pytest.mark.postgres
@pytest.mark.skipif(
    PG_CTL is None or not Path("/etc/postgresql").exists(),
    reason="no pg_ctlcluster on this machine to restart PostgreSQL with",
)
async def test_postgres_restart_during_traffic(
    nats_server: EmbeddedNatsServer, pg_url: str, figures: Callable[[str], None]
) -> None:
    from bus.runtime.hub import Hub

    version = sorted(os.listdir("/etc/postgresql"))[-1]
    control = [str(PG_CTL), "--skip-systemctl-redirect", version, "main"]
    ledger = upgraded_ledger(pg_url)
    hub = Hub(ledger, nats_server.url)
    await hub.start()
    sent = []
    try:
        async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
            for i in range(400):
                if i == 200:
                    subprocess.run([*control, "stop"], check=True, timeout=60)
                if i == 300:
                    subprocess.run([*control, "start"], check=True, timeout=60)
                request = b.patrol_request()
                await mechanism.send(request)  # NATS is up: the stream keeps them
                sent.append(request.id)
        await hub.wait_until(lambda: _pg_count(ledger) >= len(sent), 120)
    finally:
        subprocess.run([*control, "start"], timeout=60)  # whatever happened, leave it running
        await hub.stop()
    assert _pg_count(ledger) == len(sent)
    figures(
        f"sent {len(sent)}, recorded {_pg_count(ledger)} across a PostgreSQL restart, "
        f"lost {len(sent) - _pg_count(ledger)}"
    )
    ledger.close()


def _pg_count(ledger: SqlLedger) -> int:
    try:
        return ledger.count(MessageRow)
    except Exception:  # the database is down: nothing to count yet
        return -1
