"""Proof from outside: the example agencies in examples/ (plain nats-py, and JavaScript with the
`nats` npm package), written only from docs/contract/, answer real requests on a real
`mechbus up`, and their receipts and acknowledgements reach the ledger."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_processes import run, running_up

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).parents[1] / "examples"
PYTHON_AGENCY = EXAMPLES / "python_agency" / "agency.py"
NODE_AGENCY = EXAMPLES / "node_agency"
AGENCIES = {"python": "gro.government", "node": "ver.government"}
STATES = {"gro.government": "GRO", "ver.government": "VER"}


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """``mechbus up`` on a home holding credentials for the example agencies; yields the home
    and the NATS URL the agencies connect to."""
    home = tmp_path_factory.mktemp("examples") / "home"
    with running_up(home, AGENCIES.values()):
        yield home, (home / "nats.url").read_text(encoding="utf-8").strip()


def send_requests(home: Path, agency: str) -> None:
    """A protection measure and a request for information, as the Mechanism sends them."""
    state = STATES[agency]
    for args in (
        [
            "protection-measure",
            "--case",
            f"MPDDHP-2026-{state}1",
            "--state",
            state,
            "--measure",
            "perimeter_patrol",
            "--instructions",
            "Rondines perimetrales cada 4 horas.",
            "--urgent",
        ],
        ["information", "--case", f"MPDDHP-2026-{state}2", "--question", "¿Estado?"],
    ):
        sent = run(["send", args[0], "--to", agency, *args[1:]], home)
        assert sent.returncode == 0, sent.stdout + sent.stderr


def ledger_rows(home: Path, agency: str) -> list[dict[str, object]]:
    listed = run(["requests", "--json"], home)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    return [row for row in rows if row["recipient"] == agency]


def assert_acknowledged_in_ledger(home: Path, agency: str, role: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        rows = ledger_rows(home, agency)
        if len(rows) == 2 and all(row["status"] == "acknowledged" for row in rows):
            break
        assert time.monotonic() < deadline, f"not acknowledged in the ledger: {rows}"
    for row in rows:
        assert row["delivered_at"] is not None, row  # the delivery receipt was recorded
        assert row["acknowledged_by"] == role, row
    dead = run(["dlq", "list", "--json"], home)
    assert dead.returncode == 0 and not dead.stdout.strip(), dead.stdout  # nothing refused


def test_python_example_imports_only_nats_and_the_standard_library() -> None:
    tree = ast.parse(PYTHON_AGENCY.read_text(encoding="utf-8"))
    imported = {
        (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    foreign = imported - set(sys.stdlib_module_names) - {"__future__", "nats"}
    assert not foreign, f"the example must not import {foreign}"
    source = (NODE_AGENCY / "agency.js").read_text(encoding="utf-8")
    modules = {
        line.split(" from ")[-1].strip(' ";')
        for line in source.splitlines()
        if line.startswith("import ")
    }
    assert modules == {"node:crypto", "node:fs", "node:util", "nats"}, modules


def run_example(bus: tuple[Path, str], kind: str, command: list[str], cwd: Path, role: str) -> None:
    """Send two requests to the example's agency, run it until it has answered both, and
    find its acknowledgements in the ledger."""
    home, url = bus
    agency = AGENCIES[kind]
    send_requests(home, agency)
    done = subprocess.run(
        [
            *command,
            "--server",
            url,
            "--agency",
            agency,
            "--seed",
            str(home / "creds" / f"{agency}.nk"),
            "--count",
            "2",
            "--timeout",
            "60",
            "--official-role",
            role,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("acknowledged ") == 2, done.stdout
    assert_acknowledged_in_ledger(home, agency, role)


def test_python_agency(bus: tuple[Path, str]) -> None:
    # -I: no PYTHONPATH, no script directory: nothing of mechbus is reachable by path
    command = [sys.executable, "-I", str(PYTHON_AGENCY)]
    role = "Subsecretaría de Derechos Humanos de Guerrero"
    run_example(bus, "python", command, PYTHON_AGENCY.parent, role)


def test_node_agency(bus: tuple[Path, str]) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run examples/node_agency (not on PATH)")
    if not (NODE_AGENCY / "node_modules" / "nats").is_dir():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_AGENCY,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
    role = "Dirección General de Derechos Humanos de Veracruz"
    run_example(bus, "node", [node, "agency.js"], NODE_AGENCY, role)
