"""Two ``mechbus up --role hub`` processes on two homes holding the same keys, one three-node
JetStream cluster and one PostgreSQL ledger, while the mechanism sends steadily: the active hub
is SIGKILLed (five times) or SIGSTOPped past its lease, the standby takes over, and nothing is
lost, doubled or written by a hub that lost the lease."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from statistics import median

import pytest
from sqlalchemy import Engine, create_engine, text

from adapters.natsserver.cluster import EmbeddedNatsCluster
from adapters.service import compose
from adapters.service.embedded import server_config
from adapters.settings import load_settings
from bus.domain.federal import MECHANISM
from bus.domain.streams import StreamSpec
from bus.runtime import jetstream
from bus.runtime.agency import AgencyClient
from tests import builders as b
from tests.cli_processes import launch, run, wait_until_gone
from tests.ledgers import upgraded_ledger
from tests.test_cluster import send_until_acked

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.usefixtures("english_cli"),
]

LEASE = 5.0  # seconds: the default
TAKEOVERS = 5
TARGET = 10.0  # seconds from the active hub's death to a new message in the ledger
RATE = 0.25  # seconds between two requests of the steady sender


class HubProcess:
    """``mechbus up --role hub`` on one home, its output read as it comes."""

    def __init__(self, home: Path, args: list[str]) -> None:
        self.home = home
        self.proc = launch(["up", "--role", "hub", *args], home)
        self.lines: list[str] = []
        self._said = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._said:
                self.lines.append(line.rstrip("\n"))
                self._said.notify_all()
        with self._said:
            self._said.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def said(self, words: str, after: int = 0) -> bool:
        return any(words in line for line in self.lines[after:])

    def wait_for(self, words: str, timeout: float, after: int = 0) -> float:
        """Block until the output says ``words`` (from line ``after`` on); the time it took."""
        began = time.monotonic()
        with self._said:
            while not self.said(words, after):
                left = began + timeout - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"{words!r} not said; output:\n{self.output}")
                self._said.wait(left)
        return time.monotonic() - began

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)
        self._done()

    def _done(self) -> None:
        self._reader.join(30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGCONT)  # a paused one must run to stop
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._done()
        return self.proc.returncode


@dataclass
class Deployment:
    """The cluster, the ledger, two homes with the same keys, and the hubs running on them."""

    urls: list[str]
    ledger_url: str
    homes: tuple[Path, Path]
    policy: Path
    db: Engine
    hubs: list[HubProcess] = field(default_factory=list)

    def start(self, home: Path) -> HubProcess:
        args = ["--nats-url", ",".join(self.urls), "--ledger-url", self.ledger_url, "--cluster"]
        args += ["--policy", str(self.policy), "--sweep-interval", "0.5"]
        args += ["--lease-seconds", f"{LEASE:g}"]
        hub = HubProcess(home, args)
        self.hubs.append(hub)
        return hub

    def recorded(self, message_id: str) -> bool:
        with self.db.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM messages WHERE source = :source AND message_id = :id"),
                {"source": MECHANISM, "id": message_id},
            ).first()
        return found is not None

    def rungs_fired(self, request_id: str) -> int:
        """How many rungs of the ladder the ledger records as fired for ``request_id``."""
        with self.db.connect() as conn:
            found = conn.execute(
                text("SELECT count(*) FROM escalations WHERE request_id = :id"), {"id": request_id}
            ).scalar()
        return int(found or 0)

    def copies(self, source: str, ids: list[str]) -> Counter[str]:
        with self.db.connect() as conn:
            rows = conn.execute(
                text("SELECT message_id FROM messages WHERE source = :source"), {"source": source}
            ).scalars()
            return Counter(row for row in rows if row in set(ids))


@pytest.fixture
def deployment(tmp_path: Path, pg_url: str) -> Iterator[Deployment]:
    first, second = tmp_path / "first", tmp_path / "second"
    settings = load_settings(home=first)
    # The deployment's credentials and keys, made once on the first home...
    config = server_config(settings, ("gro.government",))
    compose.sealer(settings)
    compose.copy_ids(settings)
    # ...and given to the standby's home as an operator would: a copy of creds/.
    shutil.copytree(settings.creds_dir, second / "creds")
    shipped = (Path(__file__).parents[1] / "bus" / "data" / "policy.toml").read_text()
    policy = tmp_path / "policy.toml"  # rungs at 4, 6, 8 and 12 s after each request
    policy.write_text(shipped.replace('urgent = "1h"', 'urgent = "4s"'))
    upgraded_ledger(pg_url).close()  # made before the hubs, for the test's own triggers
    db = create_engine(pg_url)
    with EmbeddedNatsCluster(tmp_path / "cluster", extra_config=config) as cluster:
        deployment = Deployment(cluster.urls, pg_url, (first, second), policy, db)
        try:
            yield deployment
        finally:
            for hub in deployment.hubs:
                hub.stop()
            db.dispose()
    wait_until_gone(str(tmp_path))


class Sender:
    """The mechanism sending a request every ``RATE`` seconds, each until its PubAck."""

    def __init__(self, client: AgencyClient) -> None:
        self.client = client
        self.acked: list[str] = []
        self.retries: list[str] = []
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def send(self) -> str:
        request = b.patrol_request(at=datetime.now(UTC))
        await send_until_acked(self.client, request, self.retries)
        self.acked.append(request.id)
        return request.id

    async def _run(self) -> None:
        while not self._stop.is_set():
            await self.send()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), RATE)

    async def stop(self) -> None:
        self._stop.set()
        await self._task


@contextlib.asynccontextmanager
async def sending(deployment: Deployment) -> AsyncIterator[Sender]:
    creds = load_settings(home=deployment.homes[0]).creds_for(MECHANISM)
    async with await AgencyClient.connect(deployment.urls, MECHANISM, creds=creds) as client:
        sender = Sender(client)
        try:
            yield sender
        finally:
            await sender.stop()


async def until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` (a look at the ledger) until true, with a deadline; the time it took."""
    began = time.monotonic()
    while not await asyncio.to_thread(check):
        assert time.monotonic() - began < timeout, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)  # another process writes the ledger: nothing to wait on
    return time.monotonic() - began


async def recorded_under_this_hub(deployment: Deployment, sender: Sender, count: int) -> None:
    """Wait until ``count`` more requests, sent from now on, are in the ledger."""
    sent = len(sender.acked)

    def recorded() -> bool:
        wanted = sender.acked[sent : sent + count]
        return len(wanted) == count and all(deployment.recorded(i) for i in wanted)

    await until(recorded, 60, f"{count} more requests to be recorded")


async def settle(deployment: Deployment, sender: Sender) -> None:
    """Every acked request in the ledger: those delivered to a dead hub come back after the
    consumer's ack_wait (30 s)."""
    await sender.stop()

    def all_in() -> bool:
        return len(deployment.copies(MECHANISM, sender.acked)) == len(set(sender.acked))

    await until(all_in, 90, "every acked request to be recorded")


def check_the_ledger(deployment: Deployment, sender: Sender) -> None:
    copies = deployment.copies(MECHANISM, sender.acked)
    assert set(copies) == set(sender.acked), "an acked request is missing"
    assert max(copies.values()) == 1, "a request was recorded twice"
    verified = run(["audit", "verify", "--ledger-url", deployment.ledger_url], deployment.homes[0])
    assert verified.returncode == 0 and "chain intact" in verified.stdout, verified.stdout


async def rung_copies(deployment: Deployment) -> Counter[tuple[str, str]]:
    """How many times each rung's copy to each recipient is in the stream."""
    creds = load_settings(home=deployment.homes[0]).creds_for("fed.hub")
    nc = await jetstream.connect(
        deployment.urls, name="test", agency="fed.hub", nkeys_seed=str(creds)
    )
    try:
        js = nc.jetstream()
        name = StreamSpec().name
        last = (await js.stream_info(name)).state.last_seq
        counted: Counter[tuple[str, str]] = Counter()
        for seq in range(1, last + 1):
            msg = await js.get_msg(name, seq)
            body = json.loads(msg.data or b"{}")
            if str(body.get("id", "")).startswith("esc-"):
                counted[(body["id"], msg.subject or "")] += 1
        return counted
    finally:
        await nc.close()


@pytest.mark.timeout(600)
async def test_the_standby_takes_over_from_a_killed_hub_five_times(
    deployment: Deployment, figures: Callable[[str], None]
) -> None:
    first, second = deployment.homes
    active = deployment.start(first)
    await asyncio.to_thread(active.wait_for, "hub up on", 60)
    standby = deployment.start(second)
    await asyncio.to_thread(standby.wait_for, "standing by", 60)
    assert standby.said(f"held by mechbus hub pid {active.pid}"), standby.output
    took: list[float] = []
    async with sending(deployment) as sender:
        await until(
            lambda: deployment.recorded(sender.acked[0]) if sender.acked else False,
            30,
            "the first request to be recorded",
        )
        for turn in range(TAKEOVERS):
            await recorded_under_this_hub(deployment, sender, 3)
            mark = len(standby.lines)
            active.kill()
            killed = time.monotonic()
            after = await sender.send()  # published after the death
            await until(partial(deployment.recorded, after), 60, f"takeover {turn + 1}")
            took.append(time.monotonic() - killed)
            assert standby.said("took over the ledger's lease", mark), standby.output
            await asyncio.to_thread(standby.wait_for, "hub up on", 30, mark)
            # the killed one comes back on its home as the new standby
            restarted = deployment.start(active.home)
            await asyncio.to_thread(restarted.wait_for, "standing by", 60)
            active, standby = standby, restarted
        first, last = sender.acked[0], sender.acked[-1]

        def last_ladder_climbed() -> bool:
            return deployment.rungs_fired(last) >= deployment.rungs_fired(first) > 0

        await until(last_ladder_climbed, 60, "the last request's rungs to fire")
        await settle(deployment, sender)
    figures(
        f"takeover after SIGKILL of the active hub (lease {LEASE:g} s), kill to a new message "
        f"in the ledger: median {median(took):.1f} s, each "
        + ", ".join(f"{t:.1f}" for t in took)
        + f" s; {len(sender.acked)} requests acked, {len(sender.retries)} publish retries"
    )
    for t in took:
        assert t < TARGET, took
    check_the_ledger(deployment, sender)
    rungs = await rung_copies(deployment)
    assert rungs, "no rung fired during the test"
    doubled = {rung: n for rung, n in rungs.items() if n != 1}
    assert not doubled, doubled
    figures(f"{len(rungs)} rung copies across {TAKEOVERS} takeovers, each in the stream once")


@pytest.mark.timeout(600)
async def test_a_paused_hub_that_wakes_steps_down_and_writes_nothing(
    deployment: Deployment, figures: Callable[[str], None]
) -> None:
    with deployment.db.begin() as conn:  # who wrote each message row, by its connection's name
        conn.execute(text("CREATE TABLE recorded_by (seq bigint, app text)"))
        conn.execute(
            text(
                "CREATE FUNCTION note_recorder() RETURNS trigger AS $$ BEGIN "
                "INSERT INTO recorded_by VALUES (NEW.seq, current_setting('application_name')); "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER note_recorder AFTER INSERT ON messages "
                "FOR EACH ROW EXECUTE FUNCTION note_recorder()"
            )
        )
    first, second = deployment.homes
    old = deployment.start(first)
    await asyncio.to_thread(old.wait_for, "hub up on", 60)
    new = deployment.start(second)
    await asyncio.to_thread(new.wait_for, "standing by", 60)
    async with sending(deployment) as sender:
        await until(
            lambda: deployment.recorded(sender.acked[0]) if sender.acked else False,
            30,
            "the first request to be recorded",
        )
        mark = len(new.lines)
        os.kill(old.pid, signal.SIGSTOP)
        paused = time.monotonic()
        after = await sender.send()
        took_over = await asyncio.to_thread(new.wait_for, "took over the ledger's lease", 30, mark)
        # A message the server handed to the paused hub's open pull request comes back to
        # the new hub only after the consumer's ack_wait (30 s).
        await until(partial(deployment.recorded, after), 60, "the standby to record")
        recorded = time.monotonic() - paused
        await recorded_under_this_hub(deployment, sender, 1)  # the old one still paused
        woken = len(old.lines)
        os.kill(old.pid, signal.SIGCONT)
        stepped = await asyncio.to_thread(old.wait_for, "stepping down", 30, woken)
        await asyncio.to_thread(old.wait_for, "standing by", 30, woken)
        assert old.said(f"lease lost to mechbus hub pid {new.pid}", woken), old.output
        await recorded_under_this_hub(deployment, sender, 1)  # the old one awake, standing by
        await settle(deployment, sender)
    figures(
        f"SIGSTOP past the lease ({LEASE:g} s): the standby took over {took_over:.1f} s after "
        f"the pause, a message sent just after the pause was in the ledger {recorded:.1f} s "
        f"after it; after SIGCONT the old hub stepped down in {stepped:.1f} s"
    )
    check_the_ledger(deployment, sender)
    with deployment.db.connect() as conn:
        by = dict(conn.execute(text("SELECT app, max(seq) FROM recorded_by GROUP BY app")).all())
        first_of_new = conn.execute(
            text("SELECT min(seq) FROM recorded_by WHERE app LIKE :new"),
            {"new": f"mechbus pid {new.pid} %"},
        ).scalar()
    old_app = next(app for app in by if app.startswith(f"mechbus pid {old.pid} "))
    assert first_of_new is not None
    assert by[old_app] < first_of_new, by  # nothing of the old hub's after the takeover
    assert set(by) <= {old_app, *(a for a in by if a.startswith(f"mechbus pid {new.pid} "))}
    assert old.proc.poll() is None and new.proc.poll() is None
    assert "Traceback" not in old.output, old.output
