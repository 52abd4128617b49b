"""The command line starts at once: its help and ``pending`` load none of the web servers,
the bus's NATS client or (for the help) the ledger's SQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # each check starts a fresh interpreter

ROOT = Path(__file__).parents[1]
HEAVY = ("fastapi", "uvicorn", "faststream", "nats", "sqlalchemy", "sqlmodel", "alembic")
HEAVY_FOR_HELP = (*HEAVY, "jinja2", "httpx")
HEAVY_FOR_PENDING = ("fastapi", "uvicorn", "faststream", "jinja2")


def imported(args: list[str], home: Path) -> set[str]:
    """The top-level packages ``mechbus ARGS`` imports (``python -X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "adapters.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"MECHBUS_HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "adapters" in names  # the output was read
    return names


def test_help_loads_nothing_heavy(tmp_path: Path) -> None:
    assert imported(["--help"], tmp_path) & set(HEAVY_FOR_HELP) == set()


def test_pending_loads_no_web_server_and_no_bus_client(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from adapters.cli import app

    upgraded = CliRunner().invoke(app, ["db", "upgrade", "--home", str(tmp_path)])
    assert upgraded.exit_code == 0, upgraded.output
    assert imported(["pending"], tmp_path) & set(HEAVY_FOR_PENDING) == set()


def test_the_contract_directory_is_named_alike() -> None:
    from adapters import contract
    from adapters.cli import contract as contract_cli

    assert contract_cli.DEFAULT_DIR == contract.DEFAULT_DIR
