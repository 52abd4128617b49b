"""What the routes share: the app's state, the logged-in user, CSRF, rendering a page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from adapters import i18n
from adapters.dashboard import csrf
from adapters.dashboard.auth import Accounts, Role, User
from adapters.dashboard.live import LedgerFeed
from adapters.ledger.store import SqlLedger
from adapters.settings import Settings
from bus.domain.errors import AccessError


class LoginRequired(AccessError):
    """No session, or its account is gone or disabled."""


class Forbidden(AccessError):
    """The account's role does not allow this."""


class CsrfFailed(AccessError):
    """A POST without the session's CSRF token."""


@dataclass
class Dashboard:
    """What the routes share: settings, the ledger, accounts, the live feed."""

    settings: Settings
    ledger: SqlLedger
    accounts: Accounts
    feed: LedgerFeed
    templates: Environment
    live_max_events: int | None = None  # tests end an event stream after this many
    extra: dict[str, Any] = field(default_factory=dict)


def dash(request: Request) -> Dashboard:
    found: Dashboard = request.app.state.dash
    return found


def current_user(request: Request, role: Role = Role.VIEWER) -> User:
    name = request.session.get("user")
    user = dash(request).accounts.get(name) if isinstance(name, str) else None
    if user is None:
        request.session.pop("user", None)
        raise LoginRequired
    if not user.may(role):
        raise Forbidden
    return user


def viewer(request: Request) -> User:
    return current_user(request, Role.VIEWER)


def operator(request: Request) -> User:
    return current_user(request, Role.OPERATOR)


def lang_of(request: Request) -> str:
    return i18n.pick(request.session.get("lang"))


def flash(request: Request, text: str, level: str = "ok") -> None:
    """A one-time notice for the next page (never personal data: it lives in the cookie)."""
    request.session.setdefault("flash", []).append([level, text])


def render(
    request: Request, template: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    lang = lang_of(request)
    with i18n.speaking(lang):
        html = (
            dash(request)
            .templates.get_template(template)
            .render(
                request=request,
                user=user,
                lang=lang,
                csrf_token=csrf.token(request.session),
                notices=request.session.pop("flash", []),
                path=request.url.path,
                **context,
            )
        )
    return HTMLResponse(html, status_code=status_code)


async def checked_form(request: Request) -> dict[str, str]:
    """The POSTed form, refused unless it carries the session's CSRF token."""
    form = await request.form()
    if not csrf.valid(request.session, form.get(csrf.FIELD)):
        raise CsrfFailed
    return {k: v for k, v in form.items() if isinstance(v, str)}


def safe_back(path: str | None, default: str = "/pending") -> str:
    """Where to return after a form: a path on this site only (no open redirect)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return default
