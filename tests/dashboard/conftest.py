"""The dashboard's fixtures: a ledger played by the demo, and a test client on a copy of it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.dashboard.app import create_app
from adapters.settings import Settings, load_settings
from tests.cli_processes import run
from tests.dashboard.staff import add_accounts


@pytest.fixture(scope="session")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with every kind of row, made by playing the demo once for every dashboard test
    (as test_cli_demo does); each test works on a copy of it."""
    home = tmp_path_factory.mktemp("dash-demo") / "home"
    done = run(["demo"], home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    add_accounts(load_settings(home=home))
    return home


@pytest.fixture
def demo_home(demo_copy: Path, tmp_path: Path) -> Path:
    """A copy of the demo's home, with no bus."""
    home = tmp_path / "home"
    shutil.copytree(demo_copy, home)
    (home / "nats.url").unlink(missing_ok=True)
    return home


@pytest.fixture
def demo(demo_home: Path) -> Iterator[tuple[TestClient, Settings]]:
    """A test client, logged in as nobody, on a copy of the demo's ledger and with no bus."""
    settings = load_settings(home=demo_home, ledger_url=None, nats_url=None)
    with TestClient(create_app(settings, poll_interval=3600)) as client:
        yield client, settings
