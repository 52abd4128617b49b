"""Pages of the bridge's lists: ``limit`` and ``offset``, and a ``Link: rel="next"`` header
(RFC 8288) whenever the list goes on, so that no list is ever cut without saying so."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request, Response

PAGE = 200
MAX_PAGE = 500
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="rows in this page (at most 500)")]
# The read model asks the database for up to offset + limit + 1 rows, which must stay within
# its largest integer (2**63 - 1): past it the query itself fails, which would be a 500.
MAX_OFFSET = 2**63 - 1 - (MAX_PAGE + 1)
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip: the previous pages")]
PAGED = (
    "A page at a time: `limit` rows (200 unless given, at most 500) after `offset`. When more "
    'rows follow, the answer carries `Link: <…?limit=…&offset=…>; rel="next"`; without that '
    "header the list is complete."
)

Row = TypeVar("Row")


def paged(
    request: Request, response: Response, rows: list[Row], limit: int, offset: int
) -> list[Row]:
    """``rows`` was read with one row more than the page holds: that row says the list goes
    on, and becomes the next page's first."""
    if len(rows) <= limit:
        return rows
    following = request.url.include_query_params(limit=limit, offset=offset + limit)
    response.headers["Link"] = f'<{following}>; rel="next"'
    return rows[:limit]


class Page:
    """The page a list route was asked for, as a dependency: its query parameters, and the
    request and response its ``Link`` header is made from and goes on."""

    def __init__(
        self, request: Request, response: Response, limit: Limit = PAGE, offset: Offset = 0
    ) -> None:
        self.request = request
        self.response = response
        self.limit = limit
        self.offset = offset

    def of(self, rows: list[Row]) -> list[Row]:
        """``rows``, read ``limit + 1`` at ``offset``, cut to the page (see ``paged``)."""
        return paged(self.request, self.response, rows, self.limit, self.offset)


Paged = Annotated[Page, Depends()]
