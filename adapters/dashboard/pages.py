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
from adapters.ledger.access_log import PersonalAccess, record_access
from adapters.ledger.obligations import SqlObligations
from adapters.output import Named
from adapters.readmodel import columns as cols
from adapters.readmodel import references as refs
from adapters.readmodel.aggressors import case_aggressors, flagged_pairs
from adapters.readmodel.board import agenda as board_lines
from adapters.readmodel.board import scheduled_at
from adapters.readmodel.cases import case_agenda, case_timeline
from adapters.readmodel.chart import scorecard_svg
from adapters.readmodel.commitments import commitments as open_commitments
from adapters.readmodel.dead_letters import dead_letters as kept_dead_letters
from adapters.readmodel.federal import federal_scores
from adapters.readmodel.feed import BusEvent
from adapters.readmodel.figure_columns import (
    FEDERAL_SCORES,
    SCORECARD,
    SCORECARD_AGENCIES,
    SCORECARD_DATA,
    SHELTERS,
)
from adapters.readmodel.iachr import LINKED, case_measures
from adapters.readmodel.names import institution
from adapters.readmodel.placements import placements as placement_lines
from adapters.readmodel.placements import shelter_roster
from adapters.readmodel.record_columns import (
    AGENDA,
    BOARD,
    COMMITMENTS,
    DEAD_LETTERS,
    PENDING,
    PLACEMENTS,
    TIMELINE,
)
from adapters.readmodel.references import UnknownReference
from adapters.readmodel.report import month_bounds
from adapters.readmodel.requests import Filters
from adapters.readmodel.requests import pending as pending_lines
from adapters.readmodel.scorecard import state_scores
from bus.domain.scorecard import Section
from schemas.registry import active_registry, state_codes, state_name

router = APIRouter()
Viewer = Annotated[User, Depends(viewer)]
T = TypeVar("T")
KINDS = refs.KINDS


async def _read(request: Request, read: Callable[[Session], T]) -> T:
    """One read of the ledger, off the event loop (SQLite and psycopg block)."""

    def run() -> T:
        with dash(request).ledger.session() as session:
            return read(session)

    return await run_in_threadpool(run)


async def _resolve(request: Request, read: Callable[[Session], T]) -> T:
    """A read that resolves what the page was asked for (``references``): an unknown value
    raises ``UnknownReference`` worded in the page's language."""
    lang = lang_of(request)

    def run() -> T:
        with i18n.speaking(lang), dash(request).ledger.session() as session:
            return read(session)

    return await run_in_threadpool(run)


def _checked(request: Request, resolve: Callable[[], T]) -> T:
    """``resolve()`` in the page's language (its ``UnknownReference`` is said in it)."""
    with i18n.speaking(lang_of(request)):
        return resolve()


def _refused(request: Request, user: User, problem: UnknownReference, back: str) -> Response:
    """A value that names nothing: said on the page with what is valid, never an empty table."""
    return render(request, "bad_request.html", user, 400, problem=str(problem), back=back)


def _csv(
    request: Request, rows: Sequence[object], table: Sequence[cols.Col], name: str
) -> Response:
    """The table as a CSV file, its sentences in the page's language."""
    stamp = datetime.now(i18n.ZONE).strftime("%Y%m%d-%H%M")
    with i18n.speaking(lang_of(request)):
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
    return Filters.checked(state or None, agency or None, kind or None, urgency or None)


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
    try:
        filters = _checked(request, lambda: _filters(state, agency, kind, urgency))
    except UnknownReference as problem:
        return _refused(request, user, problem, "/pending")
    ladder = environment.policy()
    rows = await _read(request, lambda s: pending_lines(s, now, filters, 200, policy=ladder))
    if fmt == "csv":
        return _csv(request, rows, PENDING, "pendientes")
    marked = await _read(request, lambda s: flagged_pairs(s, {r.case_ref for r in rows}))
    registry = active_registry()
    return render(
        request,
        "pending.html",
        user,
        rows=rows,
        table=PENDING,
        filters=filters,
        states=[(code, state_name(code)) for code in sorted(state_codes())],
        agencies=sorted(((a.id, a.name) for a in registry if not a.is_federal), key=_by_name),
        kinds=KINDS,
        overdue=sum(1 for r in rows if r.due_at < now),
        marked=marked,
        live=True,
    )


def _by_name(agency: tuple[str, str]) -> str:
    return agency[1]


@router.get("/commitments")
async def commitments(
    request: Request,
    user: Viewer,
    state: FilterQ = None,
    agency: FilterQ = None,
    fmt: Annotated[str | None, Query(alias="format")] = None,
) -> Response:
    now = datetime.now(UTC)
    try:
        agency, state = _checked(
            request,
            lambda: (
                refs.agency(agency) if agency else None,
                refs.state(state) if state else None,
            ),
        )
    except UnknownReference as problem:
        return _refused(request, user, problem, "/commitments")
    rows = await _read(
        request,
        lambda s: open_commitments(
            s, now, overdue_only=True, beyond_limit_too=True, agency=agency, state=state
        ),
    )
    if fmt == "csv":
        return _csv(request, rows, COMMITMENTS, "compromisos-vencidos")
    return render(request, "commitments.html", user, rows=rows, table=COMMITMENTS, live=True)


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
        except ValueError:  # e.g. 2026-13: said, not shown as all time
            with i18n.speaking(lang_of(request)):
                problem = UnknownReference(
                    i18n.gettext("%(value)r is not a month: write YYYY-MM, e.g. 2026-03")
                    % {"value": month}
                )
            return _refused(request, user, problem, "/scorecard")
        asof = min(end, now)
    scores = await _read(request, lambda s: state_scores(s, asof=asof, since=since))
    scores.sort(key=lambda s: (-s.open_overdue, s.state))  # worst first, as the CLI's default
    if fmt == "csv":
        return _csv(request, scores, SCORECARD_DATA, "corresponsabilidad")
    sections = {section: [s for s in scores if s.section is section] for section in Section}
    with i18n.speaking(lang_of(request)):
        title = i18n.gettext("Joint responsibility by state")
        labels = (
            i18n.gettext("acknowledged on time (%)"),
            i18n.gettext("commitments kept on time (%)"),
            i18n.gettext("no data"),
        )
    chart = scorecard_svg(sections[Section.STATE], title, labels=labels)
    units = await _read(request, lambda s: federal_scores(s, asof=asof, since=since))
    return render(
        request,
        "scorecard.html",
        user,
        rows=sections[Section.STATE],
        table=SCORECARD,
        shelters=sections[Section.SHELTER],
        federal=sections[Section.FEDERAL],
        agencies_table=SCORECARD_AGENCIES,
        units=units,
        units_table=FEDERAL_SCORES,
        chart=chart,
        month=month or "",
        live=True,
    )


@router.get("/case")
async def find_case(
    request: Request, user: Viewer, ref: Annotated[str, Query(max_length=40)] = ""
) -> Response:
    """A case by its number (any case), or by a request's id or part of it."""
    if not ref.strip():
        return RedirectResponse("/pending", status_code=303)
    try:
        found = await _resolve(request, lambda s: refs.case_of(s, ref))
    except UnknownReference as problem:
        return _refused(request, user, problem, "/pending")
    return RedirectResponse(f"/cases/{found}", status_code=303)


@router.get("/cases/{ref}")
async def case(
    request: Request,
    user: Viewer,
    ref: str,
    fmt: Annotated[str | None, Query(alias="format")] = None,
    table: str = "timeline",
) -> Response:
    try:
        found = await _resolve(request, lambda s: refs.case_of(s, ref))
    except UnknownReference as problem:
        return _refused(request, user, problem, "/pending")
    if found != ref:  # lower case, or a request's id: the case's own address
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/cases/{found}{query}", status_code=303)
    now = datetime.now(UTC)
    events = await _read(request, lambda s: case_timeline(s, ref))
    agenda = await _read(request, lambda s: case_agenda(s, ref, now))
    measures = await _read(request, lambda s: case_measures(s, ref, now))
    aggressors = await _read(request, lambda s: case_aggressors(s, ref))
    if fmt == "csv":
        if table == "agenda":
            return _csv(request, agenda, AGENDA, f"agenda-{ref}")
        return _csv(request, events, TIMELINE, f"caso-{ref}")
    people: dict[str, str] = {}
    if user.sees_personal:  # opened from the sealed store for this page only; never logged
        ledger = dash(request).ledger
        for event in events:
            found = await run_in_threadpool(ledger.personal, event.message_id, event.source)
            if found:
                people[event.message_id] = _names(found)
        if people:  # recorded before the page is rendered: no record, no details
            access = PersonalAccess(
                user.name, user.role.value, "dashboard", "case_personal", (ref,), len(people)
            )
            await run_in_threadpool(record_access, ledger, access, now)
    return render(
        request,
        "case.html",
        user,
        ref=ref,
        events=events,
        timeline=TIMELINE,
        agenda=agenda,
        agenda_table=AGENDA,
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
    capacity = await _read(request, shelter_roster)
    placements = await _read(request, placement_lines)
    if fmt == "csv":
        if table == "placements":
            return _csv(request, placements, PLACEMENTS, "reubicaciones")
        return _csv(request, capacity, SHELTERS, "casas-refugio")
    offers: dict[str, list[Named]] = {}
    for line in placements:
        if line.status == "offered":
            offers.setdefault(line.request_id, []).append(institution(line.shelter))
    return render(
        request,
        "shelters.html",
        user,
        capacity=capacity,
        capacity_table=SHELTERS,
        placements=placements,
        placements_table=PLACEMENTS,
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
        return _csv(request, rows, BOARD, "junta-de-gobierno")
    at = await _read(request, lambda s: scheduled_at(s, session_id))
    return render(
        request,
        "board.html",
        user,
        session_id=session_id,
        session_at=at,
        material_days=policy.board.material_before.days,
        rows=rows,
        table=BOARD,
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
    try:
        reason, sender = _checked(
            request,
            lambda: (
                refs.refusal_reason(reason) if reason else None,
                refs.agency(sender) if sender else None,
            ),
        )
    except UnknownReference as problem:
        return _refused(request, user, problem, "/dead-letters")
    rows = await _read(request, lambda s: kept_dead_letters(s, reason=reason, sender=sender))
    if fmt == "csv":
        return _csv(request, rows, DEAD_LETTERS, "mensajes-rechazados")
    return render(request, "dead_letters.html", user, rows=rows, table=DEAD_LETTERS)


def _label(event: BusEvent, lang: str) -> str:
    with i18n.speaking(lang):
        what = i18n.gettext(cols.CODES.get(event.type, event.type.replace("_", " ")))
        case = event.case_ref or "—"
        return i18n.gettext("%(what)s from %(source)s, case %(case)s") % {
            "what": what,
            "source": institution(event.source),
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
