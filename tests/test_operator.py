"""``mechbus up`` in an operator's hands, driven from outside: CLI processes, raw nats-py
clients holding their own credentials, signals, a killed server, a second copy started."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from sqlalchemy import create_engine, text

from adapters.ledger.store import LeaseHeld, SqlLedger, sqlite_url
from adapters.natsserver.server import EmbeddedNatsServer
from schemas.requests import RelocationRequest
from tests.test_cli import MECHBUS, SEND_PATROL, processes_mentioning, wait_until_gone

pytestmark = pytest.mark.e2e

NAME = "Xochiquetzal Tlacuilo Ixtlahuac"  # a person's name that appears nowhere else


def words(text: str) -> str:
    """Output as words: the console wraps long lines wherever the paths make them break."""
    return " ".join(text.split())


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MECHBUS_")}
    env["MECHBUS_HOME"] = str(home)
    env.update(extra)
    return env


def mechbus(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MECHBUS, *args],
        env=environment(home, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


class UpProcess:
    """A ``mechbus up`` child whose output is read as it comes, so a test can wait for a line."""

    def __init__(self, home: Path, *args: str, **env: str) -> None:
        self.home = home
        self.proc = subprocess.Popen(
            [*MECHBUS, "up", *args],
            env=environment(home, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._more = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._more:
                self.lines.append(line)
                self._more.notify_all()
        with self._more:
            self._more.notify_all()

    @property
    def output(self) -> str:
        with self._more:
            return "".join(self.lines)

    def wait_for(self, words: str, timeout: float = 60.0) -> str:
        """The first line holding ``words``; fails if ``up`` ends or the time runs out first."""
        deadline = time.monotonic() + timeout
        with self._more:
            while True:
                for line in self.lines:
                    if words in line:
                        return line
                left = deadline - time.monotonic()
                ended = self.proc.poll() is not None and not self._reader.is_alive()
                assert left > 0 and not ended, f"no {words!r} from mechbus up:\n{self.output}"
                self._more.wait(left)

    def started(self) -> UpProcess:
        self.wait_for("hub up on")
        return self

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code


@pytest.fixture
def ups() -> Iterator[list[UpProcess]]:
    """Every ``up`` a test starts is stopped, and leaves no nats-server behind."""
    started: list[UpProcess] = []
    yield started
    for up in started:
        with contextlib.suppress(subprocess.TimeoutExpired):
            up.stop()
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()
    for up in started:
        wait_until_gone(str(up.home / "nats"))


def start(ups: list[UpProcess], home: Path, *args: str, **env: str) -> UpProcess:
    up = UpProcess(home, *args, **env)
    ups.append(up)
    return up.started()


def url_of(home: Path) -> str:
    return (home / "nats.url").read_text().strip()


def server_pid(home: Path) -> int:
    """The embedded nats-server of ``home`` (its config lies in the home)."""
    (pid,) = [p for p in processes_mentioning(str(home / "nats")) if _is_nats_server(p)]
    return pid


def _is_nats_server(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return b"nats-server" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    return False


def wait_until(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def recorded(ledger_url: str, message_id: str | None = None) -> int:
    engine = create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM messages"
            if message_id is None:
                return int(conn.execute(text(query)).scalar_one())
            query += " WHERE message_id = :id"
            return int(conn.execute(text(query), {"id": message_id}).scalar_one())
    finally:
        engine.dispose()


def send_patrol(home: Path, **env: str) -> None:
    sent = mechbus(
        home, *SEND_PATROL, "--instructions", "Rondines perimetrales cada 4 horas.", **env
    )
    assert sent.returncode == 0 and "published" in sent.stdout, sent.stdout + sent.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- one hub per home, one hub per ledger ------------------------------------------------------


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
    assert len([p for p in processes_mentioning(str(home / "nats")) if _is_nats_server(p)]) == 1

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
    """The lease's connection is cut (a database restart, a proxy) and another hub takes the
    lease: the first notices and stops, instead of recording beside it."""
    home = tmp_path / "home"
    up = start(ups, home, MECHBUS_LEDGER_URL=pg_url)
    admin = create_engine(pg_url)
    rival = SqlLedger(pg_url, create=False)
    try:
        with admin.begin() as conn:
            cut = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": f"mechbus hub pid {up.proc.pid} on {socket.gethostname()}"[:63]},
            ).all()
        assert cut == [(True,)]
        with contextlib.ExitStack() as held:
            deadline = time.monotonic() + 30
            while True:  # the terminated session lets go of the lock as it ends
                try:
                    held.enter_context(rival.hub_lease())
                    break
                except LeaseHeld:
                    assert time.monotonic() < deadline, "the cut session kept its lock"
            code = up.proc.wait(60)
    finally:
        rival.close()
        admin.dispose()
    assert code == 1, up.output
    said = words(up.output)
    assert "lost its lease" in said and f"pid {os.getpid()}" in said, up.output
    assert "Traceback" not in up.output


# -- the stream store ---------------------------------------------------------------------------


def relocation_naming(person: str) -> RelocationRequest:
    return RelocationRequest(
        source="fed.mechanism",
        time=datetime.now(UTC),
        subject="MPDDHP-2026-0415",
        recipients=("shelter.casa-refugio-cdmx",),
        urgency="urgent",
        confidentiality="personal",
        data={
            "people": 1,
            "adults": 1,
            "children": 0,
            "needs": [],
            "origin_state": "GRO",
            "earliest": date.today(),
            "expected_days": 30,
            "personal": [{"full_name": person, "address": "Calle de los Olmos 7, Chilpancingo"}],
        },
    )


def files_holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def stream_info(home: Path) -> tuple[int, float]:
    """Messages in the stream and its max age in seconds, asked as the hub."""
    nc = await nats.connect(
        url_of(home),
        nkeys_seed=str(home / "creds" / "fed.hub.nk"),
        inbox_prefix=b"_INBOX.fed.hub",
        allow_reconnect=False,
    )
    try:
        info = await nc.jetstream().stream_info("MECHBUS")
        return int(info.state.messages), float(info.config.max_age or 0)
    finally:
        await nc.close()


def test_no_name_lies_in_clear_in_the_stream_store(tmp_path: Path, ups: list[UpProcess]) -> None:
    home = tmp_path / "home"
    up = start(ups, home, "--retention-days", "45")
    up.wait_for("the stream keeps each message 45 days")
    message = relocation_naming(NAME)
    file = tmp_path / "relocation.json"
    file.write_text(message.model_dump_json())
    sent = mechbus(home, "send", "file", str(file))
    assert sent.returncode == 0 and "published" in sent.stdout, sent.stdout + sent.stderr
    ledger = sqlite_url(home / "ledger.db")
    wait_until(lambda: recorded(ledger, message.id) == 1, "the relocation request is recorded")
    messages, max_age = asyncio.run(stream_info(home))
    assert messages >= 1 and max_age == pytest.approx(45 * 86400)
    assert up.stop(signal.SIGTERM) == 0

    assert (home / "nats" / "jetstream").is_dir()
    assert files_holding(home / "nats", NAME.encode()) == []
    assert files_holding(home / "nats", b"Calle de los Olmos") == []
    key = home / "creds" / "nats-store.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert key.read_text().strip() not in (home / "nats" / "nats-server.conf").read_text()

    start(ups, home)  # the same key opens the store again: nothing was lost to encryption
    assert asyncio.run(stream_info(home))[0] == messages


# -- supervision, signals, a stable address -------------------------------------------------------


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


def url_of_last_run(up: UpProcess) -> str:
    return up.wait_for("hub up on").split()[3].rstrip(",")


async def connect_as(home: Path, agency: str, events: dict[str, asyncio.Event]) -> Client:
    """A raw client with the agency's own copy of its seed, noting when it is cut off."""
    seed = home.parent / "handed-over" / f"{agency}.nk"
    seed.parent.mkdir(exist_ok=True)
    shutil.copy(home / "creds" / f"{agency}.nk", seed)

    async def disconnected() -> None:
        events["disconnected"].set()

    async def reconnected() -> None:
        events["reconnected"].set()

    async def error(exc: Exception) -> None:
        if "authorization" in str(exc).lower():
            events["refused"].set()

    return await nats.connect(
        url_of(home),
        nkeys_seed=str(seed),
        inbox_prefix=f"_INBOX.{agency}".encode(),
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
    )


def watched() -> dict[str, asyncio.Event]:
    return {name: asyncio.Event() for name in ("disconnected", "reconnected", "refused")}


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


async def test_credentials_take_effect_on_the_running_server(
    tmp_path: Path, ups: list[UpProcess]
) -> None:
    home = tmp_path / "home"
    for agency in ("gro.government", "gro.prosecutor"):
        assert mechbus(home, "creds", "issue", agency).returncode == 0
    up = await asyncio.to_thread(start, ups, home)
    revoked_events, bystander_events = watched(), watched()
    revoked = await connect_as(home, "gro.government", revoked_events)
    bystander = await connect_as(home, "gro.prosecutor", bystander_events)
    newcomer: Client | None = None
    try:
        out = await asyncio.to_thread(mechbus, home, "creds", "revoke", "gro.government")
        assert out.returncode == 0, out.stdout
        assert "in effect on the running server" in words(out.stdout), out.stdout
        await asyncio.wait_for(revoked_events["disconnected"].wait(), 30)
        await asyncio.wait_for(revoked_events["refused"].wait(), 30)

        out = await asyncio.to_thread(mechbus, home, "creds", "issue", "gro.commission")
        assert out.returncode == 0, out.stdout
        assert "in effect on the running server" in words(out.stdout), out.stdout
        newcomer = await nats.connect(
            url_of(home),
            nkeys_seed=str(home / "creds" / "gro.commission.nk"),
            inbox_prefix=b"_INBOX.gro.commission",
            allow_reconnect=False,
        )
        # its own consumer exists already: the hub made it when the credentials changed
        consumer = await newcomer.jetstream().consumer_info("MECHBUS", "agency-gro-commission")
        assert consumer.config.durable_name == "agency-gro-commission"

        await asyncio.wait_for(bystander.flush(), 10)
        assert bystander.is_connected and not bystander_events["disconnected"].is_set()
    finally:
        for client in (revoked, bystander, newcomer):
            if client is not None:
                await client.close()
    assert await asyncio.to_thread(up.stop) == 0
    assert "credentials applied" in up.output


def test_creds_say_so_when_no_up_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = mechbus(home, "creds", "issue", "gro.government")
    assert out.returncode == 0 and "the next one applies it" in words(out.stdout), out.stdout


def test_the_lock_names_its_holder(tmp_path: Path, ups: list[UpProcess]) -> None:
    home = tmp_path / "home"
    up = start(ups, home)
    facts = json.loads((home / "up.lock").read_text())
    assert facts["pid"] == up.proc.pid and facts["listen"] == url_of(home)
