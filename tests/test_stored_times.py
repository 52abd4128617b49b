"""Times are stored in one form whoever writes the row: the unit's fast inserts (the driver's
executemany) and the ORM's updates alike. On SQLite a time is text compared as text, so a row
written as '2026-03-02 15:00:00' would sort before '2026-03-02 15:00:00.000000' and fall out of
every period that starts at that instant."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from adapters.ledger.store import sqlite_url
from tests import forecast_history as known
from tests.ledgers import upgraded_ledger

SQLALCHEMY_FORM = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
TIMES = {
    "requests": ("sent_at", "closed_at"),
    "request_recipients": ("sent_at",),
    "messages": ("sent_at", "recorded_at"),
}


def test_every_time_the_hub_writes_on_sqlite_has_the_same_form(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = upgraded_ledger(sqlite_url(path))
    try:
        known.fill(ledger)  # through the hub's own recording: inserts, then updates (a recall)
    finally:
        ledger.close()
    with sqlite3.connect(path) as db:
        for table, columns in TIMES.items():
            for column in columns:
                stored = [
                    row[0]
                    for row in db.execute(f"SELECT {column} FROM {table}")
                    if row[0] is not None
                ]
                assert stored, f"{table}.{column}: nothing written"
                wrong = [value for value in stored if not SQLALCHEMY_FORM.match(value)]
                assert not wrong, f"{table}.{column} stored as {wrong[:3]}"
