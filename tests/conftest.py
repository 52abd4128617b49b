"""Shared fixtures: ledgers on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from adapters import i18n
from adapters.ledger.store import SqlLedger, sqlite_url
from adapters.natsserver.server import EmbeddedNatsServer
from bus.runtime.hub import Hub
from tests.ledgers import upgraded_ledger

PG_URL = os.environ.get("MECHBUS_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")


def _pg_unreachable() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: skip, saying why
        return f"no PostgreSQL reachable at {PG_URL}: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture(autouse=True)
def _default_language_again() -> Iterator[None]:
    """``mechbus --lang en`` run in this process (Typer's runner) sets the language of the
    context it runs in: every test starts in the default one."""
    yield
    i18n.use(i18n.DEFAULT)


@pytest.fixture
def english_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """``mechbus`` in English (``MECHBUS_LANG``), run as a process or through Typer's runner,
    for the tests that read its words about something else than the language."""
    monkeypatch.setenv("MECHBUS_LANG", "en")


@pytest.fixture(scope="session")
def pg_unreachable() -> str | None:
    return _pg_unreachable()


@pytest.fixture
def pg_url(pg_unreachable: str | None) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if pg_unreachable:
        pytest.skip(pg_unreachable)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, pool_pre_ping=True)  # survives a server restart mid-test
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "ledger.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[SqlLedger]:
    ledger = upgraded_ledger(ledger_url)
    yield ledger
    ledger.close()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    """A real nats-server of our own on a free loopback port, with a fresh JetStream store."""
    with EmbeddedNatsServer(tmp_path / "nats") as server:
        yield server


QUICK_DEFER = 0.3  # seconds a response to an unknown request may wait for it in these tests


@pytest.fixture
async def hub(nats_server: EmbeddedNatsServer, ledger: SqlLedger) -> AsyncIterator[Hub]:
    """A hub recording ``nats_server``'s stream into ``ledger`` (SQLite and PostgreSQL)."""
    hub = Hub(ledger, nats_server.url, defer_unknown_for=QUICK_DEFER)
    await hub.start()
    yield hub
    await hub.stop()


FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Note a measured figure (sent, recorded, duplicates, lost): printed at the end of the
    run, so that CI's output carries the counts without ``-s``."""
    lines = request.config.stash.setdefault(FIGURES, [])

    def note(line: str) -> None:
        lines.append(f"{request.node.name}: {line}")

    return note


ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"  # ignored by git
SCREENSHOTS = pytest.StashKey[list[Path]]()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Where to save a browser test's screenshot ``name``.png (under test-artifacts/, made
    when needed); its path is printed at the end of the run, so CI's log says where to look."""
    taken = request.config.stash.setdefault(SCREENSHOTS, [])

    def path(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"{name}.png"
        taken.append(shot)
        return shot

    return path


SERVER_FIXTURES = frozenset({"nats_server", "pg_url", "demo_copy"})  # demo_copy: mechbus demo


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects: it must see the added markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A PostgreSQL test is an integration test; a test that starts a server through the
    shared fixtures but says neither ``integration`` nor ``e2e`` would land in the unit tier,
    which runs with no server, so collection stops and names it."""
    untiered = []
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.integration)
        tiered = item.get_closest_marker("integration") or item.get_closest_marker("e2e")
        if not tiered and SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            untiered.append(item.nodeid)
    if untiered:
        raise pytest.UsageError(
            "tests that start a server must be marked integration or e2e (docs/testing.md): "
            + ", ".join(untiered)
        )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("figures measured by the fault tests")
        for line in lines:
            terminalreporter.write_line(line)
    shots = [shot for shot in config.stash.get(SCREENSHOTS, []) if shot.exists()]
    if shots:
        terminalreporter.section("screenshots taken by the browser tests")
        for shot in shots:
            terminalreporter.write_line(str(shot))
