"""The caseload projection page: the chart (the interval as a band) and the tables, as the
command ``mechbus forecast`` shows them, for a staff count given on the page or in the
settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from adapters import i18n
from adapters.dashboard.auth import User
from adapters.dashboard.web import dash, lang_of, render, viewer
from adapters.readmodel import forecast_tables as t
from adapters.readmodel.forecast import forecast_history
from adapters.readmodel.forecast_chart import forecast_svg
from bus.domain.forecast import (
    DEFAULT_WEEKS,
    MAX_WEEKS,
    MIN_WEEKS,
    ForecastRefused,
    History,
    forecast,
)

router = APIRouter()
Viewer = Annotated[User, Depends(viewer)]
NumberQ = Annotated[str | None, Query(max_length=9)]


def _whole(raw: str | None, low: int, high: int) -> int | None:
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if low <= value <= high else None


@router.get("/forecast")
async def projection(
    request: Request,
    user: Viewer,
    officers: NumberQ = None,
    weeks: NumberQ = None,
    fmt: Annotated[str | None, Query(alias="format")] = None,
) -> Response:
    configured = dash(request).settings.officers
    staff = _whole(officers, 1, 10**6) if officers else configured
    span = _whole(weeks, MIN_WEEKS, MAX_WEEKS) if weeks else DEFAULT_WEEKS
    context: dict[str, Any] = {
        "officers": officers or (configured or ""),
        "weeks": weeks or DEFAULT_WEEKS,
        "configured": configured,
        "min_weeks": MIN_WEEKS,
        "max_weeks": MAX_WEEKS,
        "t": t,
        "tr": i18n.gettext,  # the tables' labels, translated as they are (no formatting)
    }
    problems = []
    if staff is None:
        problems.append("officers")
    if span is None:
        problems.append("weeks")
    if problems or staff is None or span is None:
        status = 400 if (officers or weeks) else 200
        return render(request, "forecast.html", user, status, problems=problems, **context)
    now = datetime.now(UTC)

    def read() -> History:
        with dash(request).ledger.session() as session:
            return forecast_history(session, now=now, weeks=span)

    history = await run_in_threadpool(read)
    try:
        result = await run_in_threadpool(forecast, history, staff)
    except ForecastRefused:
        return render(request, "forecast.html", user, problems=["history"], **context)
    if fmt == "csv":
        return _csv(t.csv_text(result))
    with i18n.speaking(lang_of(request)):
        _ = i18n.gettext
        chart = forecast_svg(
            history,
            result,
            _(t.TITLE),
            labels=(
                _("open cases: history"),
                _("projection (median)"),
                _("interval (80 %)"),
                _("weeks from today"),
            ),
        )
    return render(
        request,
        "forecast.html",
        user,
        problems=[],
        result=result,
        chart=chart,
        states=t.state_lines(result),
        **context,
    )


def _csv(text: str) -> Response:
    stamp = datetime.now(i18n.ZONE).strftime("%Y%m%d-%H%M")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="proyeccion-{stamp}.csv"'},
    )
