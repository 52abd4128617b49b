"""Rendering rows for people (Rich tables, CSV files: headers and codes in the current language)
and for programs (JSON lines: keys and codes as they are)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, TextIO

from rich.console import Console
from rich.table import Table

from adapters.i18n import gettext


class Column(NamedTuple):
    """One column: ``key`` names it in JSON; people read ``label`` (a msgid, translated when
    shown; the key when empty) over it, and ``word`` of each value when the values are codes."""

    key: str
    get: Callable[[Any], object]
    label: str = ""
    word: Callable[[object], object] | None = None

    def header(self) -> str:
        return gettext(self.label) if self.label else self.key

    def shown(self, row: Any) -> object:
        value = self.get(row)
        return self.word(value) if self.word is not None and value is not None else value


AnyColumn = Column | tuple[str, Callable[[Any], object]]


def _columns(columns: Sequence[AnyColumn]) -> list[Column]:
    return [c if isinstance(c, Column) else Column(*c) for c in columns]


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
    for name, get, *_ in columns:
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
        raise ValueError(gettext("choose one of --json and --csv"))
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


def write_csv(rows: Sequence[object], columns: Sequence[AnyColumn], stream: TextIO) -> None:
    """A header of the columns' labels, then one line per row, codes in words (the CLI's
    --csv and the dashboard's): a file people open in a spreadsheet, in their language."""
    chosen = _columns(columns)
    writer = csv.writer(stream)
    writer.writerow([c.header() for c in chosen])
    for row in rows:
        writer.writerow([_plain(c.shown(row)) for c in chosen])


def emit(
    rows: Sequence[object],
    columns: Sequence[AnyColumn],
    fmt: Format,
    console: Console,
    *,
    title: str,
    caption: str | None = None,
    more: str | None = None,
) -> None:
    """``columns``: 2-tuples (key, getter) are shown under their key, as they are.
    ``more``: the rows were cut, and how to see the rest. It goes to stderr for JSON and
    CSV, so that what a program parses holds rows only, and under the table otherwise."""
    if more is not None and fmt is not Format.TABLE:
        print(more, file=sys.stderr)
    chosen = _columns(columns)
    if fmt is Format.JSON:  # programs: the keys and the codes, whatever the language
        for row in rows:
            print(json.dumps(_record(row, chosen), ensure_ascii=False))
        return
    if fmt is Format.CSV:
        write_csv(rows, columns, sys.stdout)
        return
    if more is not None:
        caption = f"{caption}; {more}" if caption else more
    table = Table(title=title, caption=caption, header_style="bold")
    for c in chosen:
        table.add_column(c.header())
    for row in rows:
        table.add_row(*(_cell(c.shown(row)) for c in chosen))
    console.print(table)
