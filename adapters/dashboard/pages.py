"""The pages staff read, each table also as CSV, and the live event stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlmodel import Session

from adapters import environment, i18n
from adapters.dashboard.auth import User
from adapters.dashboard.live import sse
from adapters.dashboard.web import dash, lang_of, render, viewer
from adapters.ledger.obligations import SqlObligations
from adapters.readmodel import columns as cols
from adapters.readmodel.aggressors import case_aggressors, flagged_pairs
from adapters.readmodel.board import agenda as board_lines
from adapters.readmodel.board import scheduled_at
from adapters.readmodel.cases import case_agenda, case_timeline
from adapters.readmodel.chart import scorecard_svg
from adapters.readmodel.commitments import commitments as open_commitments
from adapters.readmodel.dead_letters import dead_letters as kept_dead_letters
from adapters.readmodel.federal import federal_scores
from adapters.readmodel.feed import BusEvent
from adapters.readmodel.iachr import LINKED, case_measures
from adapters.readmodel.placements import placements as placement_lines
from adapters.readmodel.placements import shelters as shelter_capacity
from adapters.readmodel.report import month_bounds
from adapters.readmodel.requests import Filters
from adapters.readmodel.requests import pending as pending_lines
from adapters.readmodel.scorecard import state_scores
from schemas.registry import active_registry, state_codes, state_name

router = APIRouter()
Viewer = Annotated[User, Depends(viewer)]
T = TypeVar("T")
KINDS = ("protection_measure", "investigation", "information", "relocation", "board_summons")


async def _read(request: Request, read: Callable[[Session], T]) -> T:
    """One read of the ledger, off the event loop (SQLite and psycopg block)."""

    def run() -> T:
        with dash(request).ledger.session() as session:
            return read(session)

    return await run_in_threadpool(run)


def _csv(
    rows: Sequence[object], table: Sequence[cols.Col], name: str, request: Request | None = None
) -> Response:
    """The table as a CSV file in the page's language (headers and codes in words)."""
    stamp = datetime.now(i18n.ZONE).strftime("%Y%m%d-%H%M")
    with i18n.speaking(lang_of(request) if request is not None else i18n.DEFAULT):
        text = cols.csv_text(rows, table)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
    )


@router.get("/")
async def home(user: Viewer) -> Response:
    return RedirectResponse("/pending", status_code=303)


def _filters(
    state: str | None, agency: str | None, kind: str | None, urgency: str | None
) -> Filters:
    return Filters(state or None, agency or None, kind or None, urgency or None)


FilterQ = Annotated[str | None, Query(max_length=64)]


@router.get("/pending")
async def pending(
    request: Request,
    user: Viewer,
    state: FilterQ = None,
    agency: FilterQ = None,
    kind: FilterQ = None,
    urgency: FilterQ = None,
    fmt: Annotated[str | None, Query(alias="format")] = None,
) -> Response:
    now = datetime.now(UTC)
    filters = _filters(state, agency, kind, urgency)
    rows = await _read(request, lambda s: pending_lines(s, now, filters, 200))
    if fmt == "csv":
        return _csv(rows, cols.PENDING, "pendientes", request)
    marked = await _read(request, lambda s: flagged_pairs(s, {r.case_ref for r in rows}))
    registry = active_registry()
    return render(
        request,
        "pending.html",
        user,
        rows=rows,
        table=cols.PENDING,
        filters=filters,
        states=[(code, state_name(code)) for code in sorted(state_codes())],
        agencies=sorted(a.id for a in registry if not a.is_federal),
        kinds=KINDS,
        overdue=sum(1 for r in rows if r.due_at < now),
        marked=marked,
        live=True,
    )


@router.get("/commitments")
async def commitments(
    request: Request,
    user: Viewer,
    state: FilterQ = None,
    agency: FilterQ = None,
    fmt: Annotated[str | None, Query(alias="format")] = None,
) -> Response:
    now = datetime.now(UTC)
    rows = await _read(
        request,
        lambda s: open_commitments(
            s,
            now,
            overdue_only=True,
            beyond_limit_too=True,
            agency=agency or None,
            state=state or None,
        ),
    )
    if fmt == "csv":
        return _csv(rows, cols.COMMITMENTS, "compromisos-vencidos", request)
    return render(request, "commitments.html", user, rows=rows, table=cols.COMMITMENTS, live=True)


@router.get("/scorecard")
async def scorecard(
    request: Request,
    user: Viewer,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    fmt: Annotated[str | None, Query(alias="format")] = None,
) -> Response:
    now = datetime.now(UTC)
    since, asof = None, now
    if month:
        try:
            since, end = month_bounds(month)
        except ValueError:
            since, end = None, now
        asof = min(end, now)
    scores = await _read(request, lambda s: state_scores(s, asof=asof, since=since))
    scores.sort(key=lambda s: (-s.open_overdue, s.state))  # worst first, as the CLI's default
    if fmt == "csv":
        return _csv(scores, cols.SCORECARD, "corresponsabilidad", request)
    with i18n.speaking(lang_of(request)):
        title = i18n.gettext("Joint responsibility by state")
        labels = (
            i18n.gettext("acknowledged on time (%)"),
            i18n.gettext("commitments kept on time (%)"),
            i18n.gettext("no data"),
        )
    chart = scorecard_svg(scores, title, labels=labels)
    units = await _read(request, lambda s: federal_scores(s, asof=asof, since=since))
    return render(
        request,
        "scorecard.html",
        user,
        rows=scores,
        table=cols.SCORECARD,
        units=units,
        units_table=cols.FEDERAL_SCORES,
        chart=chart,
        month=month or "",
        live=True,
    )


@router.get("/case")
async def find_case(user: Viewer, ref: Annotated[str, Query(max_length=40)] = "") -> Response:
    ref = ref.strip()
    return RedirectResponse(f"/cases/{ref}" if ref else "/pending", status_code=303)


@router.get("/cases/{ref}")
async def case(
    request: Request,
    user: Viewer,
    ref: str,
    fmt: Annotated[str | None, Query(alias="format")] = None,
    table: str = "timeline",
) -> Response:
    now = datetime.now(UTC)
    events = await _read(request, lambda s: case_timeline(s, ref))
    agenda = await _read(request, lambda s: case_agenda(s, ref, now))
    measures = await _read(request, lambda s: case_measures(s, ref, now))
    aggressors = await _read(request, lambda s: case_aggressors(s, ref))
    if fmt == "csv":
        if table == "agenda":
            return _csv(agenda, cols.AGENDA, f"agenda-{ref}", request)
        return _csv(events, cols.TIMELINE, f"caso-{ref}", request)
    people: dict[str, str] = {}
    if user.sees_personal:  # opened from the sealed store for this page only; never logged
        ledger = dash(request).ledger
        for event in events:
            found = await run_in_threadpool(ledger.personal, event.message_id, event.source)
            if found:
                people[event.message_id] = _names(found)
    return render(
        request,
        "case.html",
        user,
        ref=ref,
        events=events,
        timeline=cols.TIMELINE,
        agenda=agenda,
        agenda_table=cols.AGENDA,
        measures=measures,
        measures_table=LINKED,
        aggressors=aggressors,
        people=people,
        live=True,
    )


def _names(personal: Any) -> str:
    people = personal if isinstance(personal, list) else [personal]
    return "; ".join(str(p.get("full_name", "")) for p in people if isinstance(p, dict))


@router.get("/shelters")
async def shelters(
    request: Request,
    user: Viewer,
    fmt: Annotated[str | None, Query(alias="format")] = None,
    table: str = "capacity",
) -> Response:
    capacity = await _read(request, shelter_capacity)
    placements = await _read(request, placement_lines)
    if fmt == "csv":
        if table == "placements":
            return _csv(placements, cols.PLACEMENTS, "reubicaciones", request)
        return _csv(capacity, cols.SHELTERS, "casas-refugio", request)
    offers: dict[str, list[str]] = {}
    for line in placements:
        if line.status == "offered":
            offers.setdefault(line.request_id, []).append(line.shelter)
    return render(
        request,
        "shelters.html",
        user,
        capacity=capacity,
        capacity_table=cols.SHELTERS,
        placements=placements,
        placements_table=cols.PLACEMENTS,
        offers=offers,
        live=True,
    )


@router.get("/board")
async def board(
    request: Request,
    user: Viewer,
    fmt: Annotated[str | None, Query(alias="format")] = None,
    session_id: Annotated[str | None, Query(alias="session", max_length=64)] = None,
) -> Response:
    """One session's agenda (default: the next session's), with the items carried over."""
    now = datetime.now(UTC)
    if session_id is None:
        found = await run_in_threadpool(
            SqlObligations(dash(request).ledger).next_board_session, now
        )
        session_id = found.session_id if found else None
    policy = environment.policy()
    cutoff = policy.board_cutoff()
    rows = await _read(request, lambda s: board_lines(s, now, cutoff, session_id))
    if fmt == "csv":
        return _csv(rows, cols.BOARD, "junta-de-gobierno", request)
    at = await _read(request, lambda s: scheduled_at(s, session_id))
    return render(
        request,
        "board.html",
        user,
        session_id=session_id,
        session_at=at,
        material_days=policy.board.material_before.days,
        rows=rows,
        table=cols.BOARD,
        live=True,
    )


@router.get("/dead-letters")
async def dead_letters(
    request: Request,
    user: Viewer,
    reason: FilterQ = None,
    sender: FilterQ = None,
    fmt: Annotated[str | None, Query(alias="format")] = None,
) -> Response:
    rows = await _read(
        request, lambda s: kept_dead_letters(s, reason=reason or None, sender=sender or None)
    )
    if fmt == "csv":
        return _csv(rows, cols.DEAD_LETTERS, "mensajes-rechazados", request)
    return render(request, "dead_letters.html", user, rows=rows, table=cols.DEAD_LETTERS)


def _label(event: BusEvent, lang: str) -> str:
    with i18n.speaking(lang):
        what = i18n.gettext(cols.CODES.get(event.type, event.type.replace("_", " ")))
        case = event.case_ref or "—"
        return i18n.gettext("%(what)s from %(source)s, case %(case)s") % {
            "what": what,
            "source": event.source,
            "case": case,
        }


@router.get("/events")
async def events(request: Request, user: Viewer) -> Response:
    """Server-sent events: each new acknowledgement, answer, reminder or escalation."""
    state = dash(request)
    lang = lang_of(request)

    async def stream() -> AsyncIterator[str]:
        sent = 0
        async with state.feed.listen() as queue:
            yield "retry: 3000\n\n"
            while state.live_max_events is None or sent < state.live_max_events:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    yield ": keep-alive\n\n"  # proxies close silent connections
                    continue
                if event is None:  # the dashboard is stopping
                    return
                yield sse(event, _label(event, lang))
                sent += 1

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
