"""``mechbus up`` driven from outside, as an operator would: the command as a process whose
output is read as it comes, its home's files, its server, raw clients with an agency's seed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import nats
from nats.aio.client import Client
from sqlalchemy import create_engine, text

from tests.cli_processes import MECHBUS, SEND_PATROL, processes_mentioning


def words(text: str) -> str:
    """Output as words: the console wraps long lines wherever the paths make them break."""
    return " ".join(text.split())


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MECHBUS_")}
    env["MECHBUS_HOME"] = str(home)
    env["MECHBUS_LANG"] = "en"  # the operator tests read mechbus's English words
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
        self.close(timeout)
        return code

    def close(self, timeout: float = 60.0) -> None:
        """Once the process has ended and its output is read, close the pipe (left to the
        garbage collector, it would be an unclosed-file warning, which is an error here)."""
        self._reader.join(timeout)
        if not self._reader.is_alive():
            assert self.proc.stdout is not None
            self.proc.stdout.close()


def start(ups: list[UpProcess], home: Path, *args: str, **env: str) -> UpProcess:
    up = UpProcess(home, *args, **env)
    ups.append(up)
    return up.started()


def url_of(home: Path) -> str:
    return (home / "nats.url").read_text().strip()


def server_pid(home: Path) -> int:
    """The embedded nats-server of ``home`` (its config lies in the home)."""
    (pid,) = [p for p in processes_mentioning(str(home / "nats")) if is_nats_server(p)]
    return pid


def is_nats_server(pid: int) -> bool:
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
