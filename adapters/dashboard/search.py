"""The search page: requests by case number, words or institution for every role; a person,
through the blind index, for caseworkers only (a POST, so the name is in no URL or access
log), each such search recorded before its results are shown."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from adapters.dashboard.auth import Role, User
from adapters.dashboard.pages import _csv, _read
from adapters.dashboard.web import checked_form, current_user, dash, render, viewer
from adapters.ledger.access_log import PersonalAccess, record_access
from adapters.ledger.people import tokens_for
from adapters.readmodel import columns as cols
from adapters.readmodel.search import SEARCH, person_hits, person_lines, places, search
from bus.domain.personal import name_at

router = APIRouter()
Viewer = Annotated[User, Depends(viewer)]
Form = Annotated[dict[str, str], Depends(checked_form)]
SHOWN = 200  # the newest lines a page shows; more words narrow it


def caseworker(request: Request) -> User:
    return current_user(request, Role.CASEWORKER)


Caseworker = Annotated[User, Depends(caseworker)]


@router.get("/search")
async def search_page(
    request: Request,
    user: Viewer,
    q: Annotated[str, Query(max_length=200)] = "",
    fmt: Annotated[str | None, Query(alias="format")] = None,
) -> Response:
    q = q.strip()
    rows = await _read(request, lambda s: search(s, q, SHOWN + 1)) if q else []
    if fmt == "csv":
        return _csv(request, rows[:SHOWN], SEARCH, "busqueda")
    return render(
        request,
        "search.html",
        user,
        q=q,
        searched=bool(q),
        rows=rows[:SHOWN],
        more=len(rows) > SHOWN,
        table=SEARCH,
    )


PERSON = [*SEARCH, cols.Col("person", cols.N_("Person"), lambda r: r.person)]


async def _person_search(request: Request, user: User, name: str) -> list[Any]:
    """The lines where ``name`` appears, each with that person's name, after the search was
    recorded (no record, no results)."""
    ledger = dash(request).ledger

    def run() -> list[Any]:
        from datetime import UTC, datetime

        whole, words = tokens_for(ledger.sealer, name)
        with ledger.session() as session:
            hits = person_hits(session, whole, words)
            found = person_lines(session, hits, SHOWN)
        cases, matches = places(hits)
        access = PersonalAccess(
            user.name, user.role.value, "dashboard", "person_search", cases, matches
        )
        record_access(ledger, access, datetime.now(UTC))
        return [
            _Named(line, name_at(ledger.personal(hit.message_id, hit.source), hit.person))
            for line, hit in found
        ]

    return await run_in_threadpool(run)


class _Named:
    """A line with the name of the person it was found by."""

    def __init__(self, line: Any, person: str) -> None:
        self._line, self.person = line, person

    def __getattr__(self, name: str) -> Any:
        return getattr(self._line, name)


@router.post("/search/person")
async def person_search(request: Request, user: Caseworker, form: Form) -> Response:
    name = form.get("person", "").strip()[:200]
    rows = await _person_search(request, user, name) if name else []
    return render(
        request,
        "search.html",
        user,
        q="",
        searched=bool(name),
        person_search=True,
        rows=rows,
        more=False,
        table=PERSON,
    )
