"""Alembic migrations of the ledger, `mechbus db`, and the PostgreSQL connection pool."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, text
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

from adapters.cli import app
from adapters.ledger.migrate import LedgerNotReady, SchemaError, current, head, upgrade
from adapters.ledger.store import SqlLedger, make_engine, sqlite_url
from adapters.ledger.tables import BoardSessionRow, MessageRow
from adapters.settings import SettingsError, load_settings
from tests.ledgers import home_ledger, upgraded_ledger

POOL_ENV = {
    "MECHBUS_DB_POOL_SIZE": "3",
    "MECHBUS_DB_MAX_OVERFLOW": "2",
    "MECHBUS_DB_POOL_TIMEOUT": "4.5",
    "MECHBUS_DB_POOL_RECYCLE": "600",
}


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = make_engine(ledger_url)
    yield engine
    engine.dispose()


LATER_TABLES = {  # after the baseline
    "outbox",
    "dashboard_users",
    "dashboard_logins",
    "notification_attempts",
    "message_copies",
    "iachr_measures",
    "federal_obligations",
    "board_consents",
    "presumed_aggressors",
    "personal_access",
    "person_index",
    "request_text",
    "hub_lease",
    "scorecard_periods",
}


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def _shape(engine: Engine) -> dict[str, Any]:
    """Every table as the database reports it, with the names it gave what we left unnamed."""
    inspector = inspect(engine)
    return {
        table: (
            [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            inspector.get_pk_constraint(table),
            sorted(str(fk) for fk in inspector.get_foreign_keys(table)),
            sorted(_index(ix) for ix in inspector.get_indexes(table)),
            sorted(str(uq) for uq in inspector.get_unique_constraints(table)),
        )
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def _index(ix: Any) -> str:
    """An index as text; a partial index's condition (a clause object) by its SQL."""
    options = {k: str(v) for k, v in ix.get("dialect_options", {}).items()}
    return str({**ix, "dialect_options": options})


def _session_row(session_id: str) -> BoardSessionRow:
    return BoardSessionRow(
        session_id=session_id, scheduled_at=datetime(2026, 12, 3, 17, tzinfo=UTC), venue="SEGOB"
    )


def test_upgrade_creates_exactly_the_models_schema(engine: Engine) -> None:
    assert current(engine) is None
    assert upgrade(engine) == head()
    assert current(engine) == head()
    assert _differences(engine) == []


def test_upgrade_makes_what_create_all_made(engine: Engine) -> None:
    # Stricter than compare_metadata: server defaults (PostgreSQL's serials) and the names the
    # database chose count too, so an adopted ledger and a migrated one are alike.
    SQLModel.metadata.create_all(engine)
    made_by_create_all = _shape(engine)
    SQLModel.metadata.drop_all(engine)
    upgrade(engine)
    assert _shape(engine) == made_by_create_all != {}


def test_version_table_lands_in_the_connections_schema(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as connection:
        assert inspect(connection).has_table("alembic_version")
        if engine.dialect.name == "postgresql":
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            assert schema.startswith("t_")  # the test's own schema, not public
            # other tests' schemas hold their own; only this one and public matter here
            where = connection.execute(
                text(
                    "SELECT table_schema FROM information_schema.tables"
                    " WHERE table_name = 'alembic_version'"
                    " AND table_schema IN (current_schema(), 'public')"
                )
            ).scalars()
            assert list(where) == [schema]


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    with Session(engine) as session:
        session.add(_session_row("JG-2026-12"))
        session.commit()
    changes: list[str] = []

    def watch(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().split()[0].upper() in {
            "CREATE",
            "ALTER",
            "DROP",
            "INSERT",
            "UPDATE",
            "DELETE",
        }:
            changes.append(statement)

    event.listen(engine, "before_cursor_execute", watch)
    assert upgrade(engine) == head()
    event.remove(engine, "before_cursor_execute", watch)
    assert changes == []
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        kept = connection.execute(text("SELECT session_id FROM board_sessions")).all()
    assert [v[0] for v in versions] == [head()]
    assert [k[0] for k in kept] == ["JG-2026-12"]


def test_a_create_all_ledger_is_adopted_with_its_rows(ledger_url: str, engine: Engine) -> None:
    # how every ledger was made before migrations, with the tables of that time
    before = [t for t in SQLModel.metadata.sorted_tables if t.name not in LATER_TABLES]
    SQLModel.metadata.create_all(engine, tables=before)
    with Session(engine) as session:
        session.add(_session_row("JG-2026-11"))
        session.commit()
    assert current(engine) is None

    ledger = upgraded_ledger(ledger_url)
    try:
        assert current(ledger.engine) == head()
        with ledger.session() as session:
            kept = session.exec(select(BoardSessionRow)).all()
        assert [(r.session_id, r.venue) for r in kept] == [("JG-2026-11", "SEGOB")]
    finally:
        ledger.close()
    assert _differences(engine) == []


def test_a_ledger_at_head_opens_without_the_write_lock(tmp_path: Path) -> None:
    # Every CLI view builds a SqlLedger; one at head must not wait for the hub's writes.
    upgraded_ledger(sqlite_url(tmp_path / "ledger.db")).close()
    read_only = SqlLedger(f"sqlite:///file:{tmp_path / 'ledger.db'}?mode=ro&uri=true")
    try:
        assert read_only.count(MessageRow) == 0
    finally:
        read_only.close()


def test_an_older_partial_ledger_is_refused_not_stamped(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[MessageRow.__table__])  # type: ignore[list-item]
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE messages DROP COLUMN personal_sealed"))
    with pytest.raises(SchemaError) as refused:
        upgrade(engine)
    assert "messages.personal_sealed" in str(refused.value)
    assert "requests" in str(refused.value)
    assert current(engine) is None  # nothing was stamped or created
    assert set(inspect(engine).get_table_names()) == {"messages"}


def test_a_revision_from_a_newer_mechbus_is_refused(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaError, match="9999"):
        upgrade(engine)


def test_two_processes_starting_at_once_both_find_one_schema(ledger_url: str) -> None:
    engines = [make_engine(ledger_url), make_engine(ledger_url)]
    start = threading.Barrier(len(engines))
    results: list[object] = []

    def run(engine: Engine) -> None:
        start.wait()
        try:
            results.append(upgrade(engine))
        except Exception as exc:  # reported below with the other thread's result
            results.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert results == [head(), head()]
        assert _differences(engines[0]) == []
    finally:
        for e in engines:
            e.dispose()


def test_mechbus_db_upgrade_and_current(ledger_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    before = runner.invoke(app, ["db", "current", "--url", ledger_url, "--home", str(tmp_path)])
    assert before.exit_code == 0, before.output
    assert before.output.startswith("ninguna")

    done = runner.invoke(app, ["db", "upgrade", "--url", ledger_url, "--home", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert f"en la revisión {head()}" in done.output

    now = runner.invoke(app, ["db", "current", "--url", ledger_url, "--home", str(tmp_path)])
    assert now.exit_code == 0, now.output
    assert now.output.strip() == f"{head()} (la más reciente)"
    assert head() == "0015"  # bump with the next revision


@pytest.mark.postgres
def test_pool_settings_from_the_environment_reach_the_engine(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in POOL_ENV.items():
        monkeypatch.setenv(name, value)
    ledger = home_ledger(load_settings(home=tmp_path, ledger_url=pg_url))
    try:
        pool: Any = ledger.engine.pool
        assert pool.size() == 3
        assert pool._max_overflow == 2
        assert pool.timeout() == 4.5
        assert pool._recycle == 600
        assert pool._pre_ping is True
        assert current(ledger.engine) == head()
    finally:
        ledger.close()


def test_sqlite_keeps_its_own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in POOL_ENV.items():
        monkeypatch.setenv(name, value)
    ledger = home_ledger(load_settings(home=tmp_path))
    try:
        assert ledger.url.startswith("sqlite")
        assert getattr(ledger.engine.pool, "_recycle", -1) != 600
        with ledger.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MECHBUS_DB_POOL_SIZE", "0"),
        ("MECHBUS_DB_POOL_SIZE", "five"),
        ("MECHBUS_DB_MAX_OVERFLOW", "-1"),
        ("MECHBUS_DB_POOL_TIMEOUT", "0"),
        ("MECHBUS_DB_POOL_TIMEOUT", "inf"),
        ("MECHBUS_DB_POOL_RECYCLE", "0"),
        ("MECHBUS_DB_POOL_RECYCLE", "1.5"),
    ],
)
def test_a_bad_pool_setting_is_refused_naming_the_variable(
    name: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(home=tmp_path)
    for command in (["db", "current"], ["requests"]):  # every command, not a traceback
        refused = CliRunner().invoke(app, [*command, "--home", str(tmp_path)])
        assert refused.exit_code == 2
        assert name in refused.output


def _pending(home: Path, ledger_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MECHBUS_")}
    env |= {"MECHBUS_HOME": str(home), "MECHBUS_LEDGER_URL": ledger_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", "pending"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_read_on_a_fresh_home_is_refused_and_migrates_nothing(
    ledger_url: str, engine: Engine, tmp_path: Path
) -> None:
    refused = _pending(tmp_path / "home", ledger_url)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    said = " ".join((refused.stdout + refused.stderr).split())
    assert "Traceback" not in said
    if engine.dialect.name == "sqlite":  # not even an empty file is made
        assert engine.url.database is not None
        assert f"no hay registro en {engine.url.database}" in said
        assert "`mechbus db upgrade`" in said
        assert not Path(engine.url.database).exists()
    else:
        assert engine.url.render_as_string(hide_password=True) in said
        assert f"schema revision none, and this mechbus needs revision {head()}" in said
        assert "run `mechbus db upgrade`" in said
    assert current(engine) is None  # nothing was created

    upgrade(engine)
    assert _pending(tmp_path / "home", ledger_url).returncode == 0


def test_a_read_on_a_stale_ledger_is_refused_naming_both_revisions(
    ledger_url: str, engine: Engine, tmp_path: Path
) -> None:
    upgrade(engine, "0004")
    refused = _pending(tmp_path / "home", ledger_url)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    said = " ".join((refused.stdout + refused.stderr).split())
    assert "Traceback" not in said
    assert f"schema revision 0004, and this mechbus needs revision {head()}" in said
    assert "mechbus db upgrade" in said
    assert current(engine) == "0004"  # left as it was
    with pytest.raises(LedgerNotReady):
        SqlLedger(ledger_url).close()


def test_the_light_schema_check_knows_what_alembic_knows() -> None:
    """Opening a ledger checks its revision without Alembic (adapters.ledger.schema): its
    newest revision and the revisions it knows must be Alembic's own."""
    from alembic.script import ScriptDirectory

    from adapters.ledger import schema
    from adapters.ledger.migrate import config

    scripts = ScriptDirectory.from_config(config())
    assert head() == schema.HEAD
    assert schema.known_revisions() == {s.revision for s in scripts.walk_revisions()}
