"""The operator tests' fixture: every ``mechbus up`` a test starts is stopped."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest

from tests.cli_processes import wait_until_gone
from tests.operating.up import UpProcess


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
        up.close()
    for up in started:
        wait_until_gone(str(up.home / "nats"))
