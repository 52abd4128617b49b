"""The app factory: sessions, security headers, templates, the live feed, the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.middleware.sessions import SessionMiddleware

from adapters import i18n
from adapters.dashboard import casefile, commands, login, pages, projection, search
from adapters.dashboard.auth import Accounts
from adapters.dashboard.live import LedgerFeed
from adapters.dashboard.web import CsrfFailed, Dashboard, Forbidden, LoginRequired, dash, render
from adapters.observability.http import routes as health_routes
from adapters.observability.watched import Watched
from adapters.readmodel.columns import CODES
from adapters.service import compose
from adapters.settings import Settings

HERE = Path(__file__).parent
SESSION_HOURS = 8  # a session left idle this long must log in again


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = i18n.local_time
    env.filters["duration"] = i18n.duration
    env.filters["hours_since"] = i18n.hours_since
    env.globals["CODES"] = CODES
    return env


def create_app(
    settings: Settings,
    *,
    secure_cookies: bool = False,
    poll_interval: float = 1.0,
    live_max_events: int | None = None,
) -> FastAPI:
    """The dashboard over ``settings``' ledger; ``secure_cookies`` when served over TLS."""
    ledger = compose.open_ledger(settings)
    feed = LedgerFeed(ledger, poll_interval)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        feed.start()
        try:
            yield
        finally:
            await feed.stop()
            ledger.close()

    app = FastAPI(
        title="mechbus", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.dash = Dashboard(
        settings, ledger, Accounts(ledger), feed, templates(), live_max_events
    )

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        # Pages carry what states failed to do and, for some roles, who is protected: no
        # caching, no framing, no referrer leaking a URL, scripts only from this server.
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'"
        )
        return response

    # Added last, so it runs first: the session is there for the handlers above.
    app.add_middleware(
        SessionMiddleware,
        secret_key=compose.dashboard_secret(settings),
        session_cookie="mechbus_session",
        max_age=SESSION_HOURS * 3600,
        same_site="strict",
        https_only=secure_cookies,
    )

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/login", status_code=303)
        return PlainTextResponse("login required", status_code=401)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        user = dash(request).accounts.get(str(request.session.get("user")))
        return render(request, "refused.html", user, status_code=403, why="role")

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        name = request.session.get("user")
        user = dash(request).accounts.get(name) if isinstance(name, str) else None
        return render(request, "refused.html", user, status_code=403, why="csrf")

    app.include_router(login.router)
    app.include_router(casefile.router)  # before pages: /cases/{ref}/print is its own
    app.include_router(pages.router)
    app.include_router(search.router)
    app.include_router(projection.router)
    app.include_router(commands.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # /healthz, /readyz, /metrics without login: they show no person, case or account. The
    # dashboard holds no NATS connection (its actions connect when asked), so: its ledger.
    app.router.routes.extend(health_routes(Watched(ledger)))
    return app
