"""Running ``mechbus`` as a user does, for the tests that need a real process (signals, exit
codes, a real nats-server), and in-process through Typer's runner for reading its views."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.cli import app

MECHBUS = [sys.executable, "-m", "adapters.cli"]
SEND_PATROL = [
    "send",
    "protection-measure",
    "--to",
    "gro.government",
    "--case",
    "MPDDHP-2026-0412",
    "--state",
    "GRO",
    "--measure",
    "perimeter_patrol",
]


def env_of(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MECHBUS_HOME"] = str(home)
    env.pop("MECHBUS_NATS_URL", None)
    env.pop("MECHBUS_LEDGER_URL", None)
    return env


def processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line mentions ``text`` (a path or a URL)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z" and any(text.encode() in part for part in cmdline):
            pids.append(int(entry.name))
    return pids


def wait_until_gone(text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while processes_mentioning(text):
        assert time.monotonic() < deadline, f"left running: {processes_mentioning(text)}"
        os.sched_yield()


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MECHBUS, *args], env=env_of(home), capture_output=True, text=True, timeout=120
    )


def launch(args: list[str], home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MECHBUS, *args],
        env=env_of(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop ``proc`` as Ctrl-C would, killing it only if it does not end within 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def dashboard_url(proc: subprocess.Popen[str]) -> str:
    """Read ``mechbus dashboard --port 0``'s output until it says where it serves."""
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"dashboard (?:on|en) (http://\S+/)", line)  # either language
        if found:
            return found.group(1)
    pytest.fail("mechbus dashboard did not start")


@contextlib.contextmanager
def running_up(
    home: Path, issued: Iterable[str] = (), args: Iterable[str] = ()
) -> Iterator[subprocess.Popen[str]]:
    """``mechbus up [args]`` on ``home`` once it says it is up, with credentials issued first
    for ``issued`` as a deployment would; stopped with Ctrl-C, leaving nothing behind."""
    for agency in issued:
        done = run(["creds", "issue", agency], home)
        assert done.returncode == 0, done.stdout + done.stderr
    proc = launch(["up", *args], home)
    wait_for_hub(proc)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
        wait_until_gone(str(home))


def invoke(args: list[str], home: Path) -> Any:
    """``mechbus ARGS`` in this process, on ``home`` as ``run`` would (Typer's runner)."""
    unset: dict[str, str | None] = {"MECHBUS_NATS_URL": None, "MECHBUS_LEDGER_URL": None}
    return CliRunner(env={"MECHBUS_HOME": str(home), **unset}).invoke(app, args)


def said(result: Any) -> str:
    """What a command invoked in this process printed, on one line (wrapping undone)."""
    return " ".join(result.output.split())


def upgraded_home(tmp_path: Path) -> Path:
    """A new home whose ledger ``mechbus db upgrade`` has made."""
    home = tmp_path / "home"
    assert invoke(["db", "upgrade"], home).exit_code == 0
    return home


def json_lines(args: list[str], home: Path) -> list[dict[str, Any]]:
    """The rows ``mechbus ARGS --json`` prints, read in this process."""
    result = invoke([*args, "--json"], home)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def recorded_month(case: str, home: Path) -> str:
    """The month (UTC, ``YYYY-MM``) the first message of ``case`` was recorded in. A report of a
    record made before the midnight that ends a month is asked of that month, not of the month
    going on when the test reads it."""
    first = min(row["recorded"] for row in json_lines(["case", case, "--all"], home))
    return datetime.fromisoformat(str(first)).astimezone(UTC).strftime("%Y-%m")


def wait_for_hub(proc: subprocess.Popen[str]) -> None:
    """Read ``mechbus up``'s output until it says the hub is up."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if "hub up on" in line:
            return
    pytest.fail("mechbus up did not start")


def filled_ledger(path: Path) -> str:
    """A ledger holding seven of everything a list view shows."""
    from adapters.ledger.outbox import Outbox
    from bus.domain import subjects
    from bus.domain.policy import Policy
    from bus.domain.ports import Delivery
    from bus.domain.recording import record_batch
    from bus.domain.rules import Rules
    from schemas.capacity import CapacityUpdate
    from tests import builders as b
    from tests.ledgers import upgraded_ledger

    url = f"sqlite:///{path}"
    ledger = upgraded_ledger(url)
    now = datetime.now(UTC)
    requests = [b.patrol_request(at=now) for _ in range(7)]
    first = requests[0].id
    due = now + timedelta(days=30)
    messages: list[Any] = [*requests, b.acknowledgement(first, at=now), b.acceptance(first, at=now)]
    messages += [b.commitment(first, f"C{i}", due=due, at=now) for i in range(7)]
    messages += [b.relocation_request(at=now)]
    messages += [
        CapacityUpdate(source=shelter, time=now, data=b.SHELTER_CAPACITY)
        for shelter in ("shelter.casa-refugio-cdmx", "shelter.albergue-oaxaca")
    ]
    deliveries = [
        Delivery(subjects.routes(m, b.REGISTRY)[0][0], m.to_json(), seq)
        for seq, m in enumerate(messages, 1)
    ]
    deliveries += [  # seven dead letters
        Delivery("mech.v1.from.gro.government.acknowledgement", b"{not json", 100 + i)
        for i in range(7)
    ]
    record_batch(ledger, deliveries, now, Rules(b.REGISTRY, Policy.load()))
    for _ in range(7):
        Outbox(ledger).put(b.patrol_request(at=now))
    ledger.close()
    return url


@contextlib.contextmanager
def running_dashboard(home: Path) -> Iterator[str]:
    """``mechbus dashboard`` on a free port over ``home``, once it serves: its URL; stopped
    with Ctrl-C, leaving nothing behind."""
    web = launch(["dashboard", "--port", "0"], home)
    try:
        yield dashboard_url(web)
    finally:
        stop(web)
        wait_until_gone(str(home))
