"""Rendering rows for people (Rich tables) and for programs (JSON lines, CSV)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

Column = tuple[str, Callable[[Any], object]]


class Named(str):
    """An identifier shown by its name: people read the name (tables, CSV files, pages);
    programs (JSON) get the identifier under the column's key and the name beside it."""

    id: str

    def __new__(cls, ident: str, name: str) -> Named:
        named = super().__new__(cls, name)
        named.id = ident
        return named


def _record(row: object, columns: Sequence[Column]) -> dict[str, object]:
    record: dict[str, object] = {}
    for name, get in columns:
        value = get(row)
        if isinstance(value, Named):
            record[name] = value.id
            record[f"{name}_name"] = str(value)
        else:
            record[name] = _plain(value)
    return record


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def make_console(**options: Any) -> Console:
    """The console of the ``mechbus`` commands. On a terminal Rich fits lines to its width;
    anywhere else (a pipe, a file, a test) a line is never wrapped, whatever ``COLUMNS``
    says, because scripts read it whole, and tables get 120 columns instead of Rich's 80."""
    terminal = sys.stdout.isatty()
    return Console(width=None if terminal else 120, soft_wrap=not terminal, **options)


def choose(as_json: bool, as_csv: bool) -> Format:
    if as_json and as_csv:
        raise ValueError("choose one of --json and --csv")
    return Format.JSON if as_json else Format.CSV if as_csv else Format.TABLE


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return " + ".join(str(v) for v in value)
    return value


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, tuple | list):
        return " + ".join(str(v) for v in value)
    return str(value)


def write_csv(rows: Sequence[object], columns: Sequence[Column], stream: TextIO) -> None:
    """A header of column names, then one line per row (the CLI's --csv and the dashboard's)."""
    writer = csv.writer(stream)
    writer.writerow([name for name, _ in columns])
    for row in rows:
        writer.writerow([_plain(get(row)) for _, get in columns])


def emit(
    rows: Sequence[object],
    columns: Sequence[Column],
    fmt: Format,
    console: Console,
    *,
    title: str,
    caption: str | None = None,
    more: str | None = None,
) -> None:
    """``more``: the rows were cut, and how to see the rest. It goes to stderr for JSON and
    CSV, so that what a program parses holds rows only, and under the table otherwise."""
    if more is not None and fmt is not Format.TABLE:
        print(more, file=sys.stderr)
    if fmt is Format.JSON:
        for row in rows:
            print(json.dumps(_record(row, columns), ensure_ascii=False))
        return
    if fmt is Format.CSV:
        write_csv(rows, columns, sys.stdout)
        return
    if more is not None:
        caption = f"{caption}; {more}" if caption else more
    table = Table(title=title, caption=caption, header_style="bold")
    for name, _ in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*(_cell(get(row)) for _, get in columns))
    console.print(table)
