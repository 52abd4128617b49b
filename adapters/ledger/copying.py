"""Copies of the ledger for backups: a consistent copy taken while the hub writes (SQLite's
online backup, or ``pg_dump`` in a snapshot exported from the transaction that reads the chain's
head), and the copy put back (the file, or ``pg_restore`` through ``psql`` into a schema that
may be named otherwise)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection

from adapters.i18n import _
from adapters.ledger.store import make_engine, sqlite_url
from bus.domain.errors import ServiceError


class BackupError(ServiceError, RuntimeError):
    """A backup or a restore refused or failed; the message says why and what to do."""


def record_point(conn: Connection) -> dict[str, Any]:
    """The chain's head, the schema's revision and the last stream sequence the ledger
    recorded, read in the transaction (or the copy) the backup holds."""
    head = conn.execute(
        text("SELECT seq, message_id, row_hash FROM messages ORDER BY seq DESC LIMIT 1")
    ).first()
    recorded = [
        conn.execute(text(f"SELECT MAX(stream_seq) FROM {table}")).scalar()
        for table in ("messages", "message_copies", "dead_letters")
    ]
    return {
        "revision": conn.execute(text("SELECT version_num FROM alembic_version")).scalar(),
        "chain_head": (
            {"seq": int(head[0]), "message_id": head[1], "row_hash": head[2]} if head else None
        ),
        "recorded_through_stream_seq": max((int(s) for s in recorded if s is not None), default=0),
    }


def sqlite_path(url: URL) -> Path:
    return Path(url.database or "")


def copy_sqlite(url: URL, into: Path) -> dict[str, Any]:
    """SQLite's online backup: a consistent copy, page by page, while the hub writes."""
    source = sqlite3.connect(sqlite_path(url), timeout=30.0)
    copy = sqlite3.connect(into)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    engine = make_engine(sqlite_url(into))
    try:
        with engine.connect() as conn:
            return record_point(conn)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class PgTarget:
    """How libpq's tools reach a ledger the SQLAlchemy URL names, and the schema it lives in
    (``options=-csearch_path=SCHEMA``, as a deployment may give; else ``public``)."""

    conninfo: str
    password: str | None
    schema: str

    @classmethod
    def of(cls, url: URL) -> PgTarget:
        options = str(url.query.get("options", ""))
        found = re.search(r"-c\s*search_path\s*=\s*([^\s,]+)", options)
        schema = found.group(1).strip('"') if found else "public"
        parts = {
            "host": url.host,
            "port": url.port,
            "user": url.username,
            "dbname": url.database,
            "options": options or None,
        }
        conninfo = " ".join(f"{k}={_quoted(str(v))}" for k, v in parts.items() if v)
        return cls(conninfo, url.password, schema)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password  # never on a command line others can read
        return env


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dump_postgres(url: URL, into: Path) -> dict[str, Any]:
    """``pg_dump --format=custom`` of the ledger's schema, in a snapshot exported from a
    transaction that reads the chain's head too: the dump and the manifest agree."""
    target = PgTarget.of(url)
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            exported = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
            point = record_point(conn)
            done = subprocess.run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={exported}",
                    f"--schema={target.schema}",
                    f"--file={into}",
                    f"--dbname={target.conninfo}",
                ],
                env=target.env(),
                capture_output=True,
                text=True,
            )
            conn.rollback()  # it only read
    finally:
        engine.dispose()
    if done.returncode != 0:
        raise BackupError(_("pg_dump failed: {why}").format(why=done.stderr.strip()))
    return {**point, "schema": target.schema}


# -- putting a copy back ---------------------------------------------------------------------


def restore_sqlite(source: Path, url: URL) -> None:
    path = sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)


# A schema-qualified name outside the data: ``name.`` or ``"name".``, not inside a word.
def _schema_names(schema: str) -> re.Pattern[str]:
    return re.compile(
        r'(?<![\w"])(?:' + re.escape(schema) + r'|"' + re.escape(schema) + r'")(?=\.)'
    )


def renamed_schema(script: Iterator[str], source: str, target: str) -> Iterator[str]:
    """pg_restore's SQL with the schema ``source`` renamed ``target`` everywhere but in the
    rows themselves (the lines of each COPY), which are passed on as they are."""
    names = _schema_names(source)
    quoted_target = f'"{target}"' if not re.fullmatch(r"[a-z_][a-z0-9_]*", target) else target
    in_rows = False
    for line in script:
        if in_rows:
            in_rows = line.rstrip("\n") != "\\."
            yield line
            continue
        if re.match(r"CREATE SCHEMA \S+;$", line.strip()):
            yield f"CREATE SCHEMA IF NOT EXISTS {quoted_target};\n"
            continue
        line = names.sub(quoted_target, line)
        in_rows = line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;")
        yield line


def restore_postgres(source: Path, url: URL, source_schema: str) -> None:
    """pg_restore's SQL, into the target's schema (which may be named otherwise), in one
    transaction through psql: all of it or nothing."""
    target = PgTarget.of(url)
    restore = ["pg_restore", "--no-owner", "--no-privileges", "--file=-", str(source)]
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    psql.append(f"--dbname={target.conninfo}")
    pipe = subprocess.PIPE
    with (
        subprocess.Popen(restore, stdout=pipe, stderr=pipe) as script,
        subprocess.Popen(
            psql, stdin=pipe, stdout=subprocess.DEVNULL, stderr=pipe, env=target.env()
        ) as into,
    ):
        assert script.stdout is not None and into.stdin is not None
        # Every byte as pg_restore wrote it (whatever the dump's encoding, line ends kept):
        # only the schema's name changes, outside the rows.
        lines = io.TextIOWrapper(script.stdout, "utf-8", "surrogateescape", newline="")
        sql = io.TextIOWrapper(into.stdin, "utf-8", "surrogateescape", newline="")
        try:
            for line in renamed_schema(lines, source_schema, target.schema):
                sql.write(line)
            sql.close()
        except BrokenPipeError:  # psql stopped at an error: its own words say which
            script.kill()
            with contextlib.suppress(OSError):  # closes the pipe, whatever was not written
                sql.close()
        failed = script.wait() != 0
        refused = into.wait() != 0
        said = b"".join(p.stderr.read() for p in (script, into) if p.stderr is not None)
    if failed or refused:
        why = said.decode(errors="replace").strip()
        raise BackupError(_("pg_restore failed: {why}").format(why=why))
