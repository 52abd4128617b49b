"""Pages of a list view: at most ``limit`` rows after ``offset``, or every row; the query asks
for one row more than it shows, so the view can say that the list goes on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from adapters.i18n import gettext

T = TypeVar("T")

PAGE_ROWS = 200


@dataclass(frozen=True)
class Page:
    limit: int | None = PAGE_ROWS  # None: every row
    offset: int = 0

    @property
    def fetch(self) -> int | None:
        """How many rows to ask the database for: one more than the page shows."""
        return None if self.limit is None else self.limit + 1

    def cut(self, fetched: Sequence[T]) -> tuple[list[T], bool]:
        """The rows of the page, and whether more follow (``fetched`` starts at ``offset``)."""
        rows = list(fetched)
        if self.limit is None:
            return rows, False
        return rows[: self.limit], len(rows) > self.limit

    def of(self, everything: Sequence[T]) -> tuple[list[T], bool]:
        """The page of a list already in memory."""
        return self.cut(everything[self.offset :])

    def more(self, shown: int) -> str:
        """What to tell the reader when the list was cut after ``shown`` rows."""
        first, last = self.offset + 1, self.offset + shown
        said = gettext(
            "rows {first}-{last} shown and more follow: --offset {last} for the next page, or --all"
        )
        return said.format(first=first, last=last)
