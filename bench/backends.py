"""Where a measurement's ledger lives: a fresh SQLite file, or a fresh schema in a PostgreSQL
database the benchmark makes for itself at the start and drops at the end, failure or not."""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

from adapters.ledger.store import sqlite_url

DEFAULT_POSTGRES = "postgresql+psycopg://root@127.0.0.1:5432/test"
CONNECT_TIMEOUT = 3  # seconds: an absent server is a skipped row, not a stalled run


@dataclass(frozen=True)
class Backend:
    """A kind of ledger database; ``fresh()`` gives the URL of an empty one, removed after."""

    name: str  # "sqlite" or "postgresql": the key in the JSON
    title: str  # as the tables print it
    fresh: Callable[[], contextlib.AbstractContextManager[str]]


@contextlib.contextmanager
def _sqlite_file() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="mechbus-bench-ledger-") as tmp:
        yield sqlite_url(Path(tmp) / "ledger.db")


SQLITE = Backend("sqlite", "SQLite", _sqlite_file)


def unreachable(url: str) -> str | None:
    """Why the PostgreSQL server at ``url`` cannot be used, or None when it can."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect: the rows are skipped, saying why
        return f"no PostgreSQL reachable at {make_url(url)!r}: {type(exc).__name__}: {exc}"
    return None


class PostgresDatabase:
    """``mechbus_bench_<random>`` on the server at ``admin_url``, each measurement's ledger in
    a schema of its own (as a ledger starts: empty), dropped once measured."""

    def __init__(self, admin_url: str, name: str) -> None:
        self.name = name
        self.url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        self._engine: Engine = create_engine(self.url, isolation_level="AUTOCOMMIT")

    @contextlib.contextmanager
    def schema(self) -> Iterator[str]:
        schema = f"ledger_{secrets.token_hex(6)}"
        with self._engine.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in self.url else "?"
        try:
            yield f"{self.url}{sep}options=-csearch_path%3D{schema}"
        finally:
            with self._engine.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))

    def backend(self) -> Backend:
        return Backend("postgresql", "PostgreSQL", self.schema)

    def close(self) -> None:
        self._engine.dispose()


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[PostgresDatabase]:
    """A database of the benchmark's own, dropped on the way out whatever happened (WITH
    (FORCE): a connection a failed measurement left open must not keep it alive)."""
    name = f"mechbus_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        database = PostgresDatabase(admin_url, name)
        try:
            yield database
        finally:
            database.close()
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()
