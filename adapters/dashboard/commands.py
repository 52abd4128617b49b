"""Staff actions, each published on the bus like any other message: remind now, escalate
now, confirm a shelter placement (the same code paths as the command line)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from adapters import actions
from adapters import tracking_views as views
from adapters.dashboard import i18n
from adapters.dashboard.auth import User
from adapters.dashboard.i18n import N_
from adapters.dashboard.web import checked_form, dash, flash, lang_of, operator, safe_back

router = APIRouter(prefix="/actions")
log = logging.getLogger("mechbus.dashboard")
Operator = Annotated[User, Depends(operator)]
Form = Annotated[dict[str, str], Depends(checked_form)]


def _say(request: Request, message: str, tone: str = "ok", **values: Any) -> None:
    with i18n.speaking(lang_of(request)):
        flash(request, i18n.gettext(message) % values, tone)


async def _rung(request: Request, user: User, form: dict[str, str], *, escalate: bool) -> Response:
    request_id, agency = form.get("request_id", ""), form.get("agency", "")
    back = safe_back(form.get("back"))
    try:
        message = await actions.fire_rung_now(
            dash(request).settings, request_id, agency, escalate=escalate, now=datetime.now(UTC)
        )
    except actions.NotOwed:
        _say(
            request,
            N_(
                "Nothing to send: %(agency)s has answered, is not overdue yet, or "
                "every step has been sent already."
            ),
            "error",
            agency=agency,
        )
        return RedirectResponse(back, status_code=303)
    except (actions.NoServer, OSError) as exc:
        log.warning("action by %s not sent: %s", user.name, type(exc).__name__)
        _say(request, N_("Not sent: the bus cannot be reached. Try again later."), "error")
        return RedirectResponse(back, status_code=303)
    log.info("%s sent %s for %s to %s", user.name, message.type, request_id, agency)
    level = message.data.level.value  # type: ignore[attr-defined]
    _say(
        request,
        N_("Sent: %(level)s for %(agency)s (message %(id)s)."),
        level=_level(request, level),
        agency=agency,
        id=message.id[-8:],
    )
    return RedirectResponse(back, status_code=303)


_LEVELS = {
    "reminder": N_("reminder"),
    "authority_notice": N_("notice to the state's Secretary of Government"),
    "board_agenda": N_("placement on the Board's agenda"),
    "monthly_report": N_("inclusion in the monthly report"),
}


def _level(request: Request, level: str) -> str:
    with i18n.speaking(lang_of(request)):
        return i18n.gettext(_LEVELS.get(level, level))


@router.post("/remind")
async def remind(request: Request, user: Operator, form: Form) -> Response:
    return await _rung(request, user, form, escalate=False)


@router.post("/escalate")
async def escalate(request: Request, user: Operator, form: Form) -> Response:
    return await _rung(request, user, form, escalate=True)


@router.post("/confirm-placement")
async def confirm_placement(request: Request, user: Operator, form: Form) -> Response:
    request_id, shelter = form.get("request_id", ""), form.get("shelter", "")
    back = safe_back(form.get("back"), "/shelters")
    # Names are typed only by those who may see them; a coordinator confirms without them and
    # a caseworker sends them later. They travel in the POST body, never in a URL or a log.
    names = form.get("names", "") if user.sees_personal else ""
    personal = [{"full_name": n.strip()} for n in names.splitlines() if n.strip()]

    def load() -> tuple[Any, list[views.PlacementLine]]:
        with dash(request).ledger.session() as session:
            body = views.relocation_body(session, request_id)
            lines = [p for p in views.placements(session) if p.request_id == request_id]
        return body, lines

    body, lines = await run_in_threadpool(load)
    offered = {p.shelter for p in lines if p.status == "offered"}
    if body is None or shelter not in offered:
        _say(request, N_("That shelter has no open offer for this relocation."), "error")
        return RedirectResponse(back, status_code=303)
    try:
        messages = actions.placement_messages(request_id, shelter, body, lines, personal)
    except ValidationError:
        _say(request, N_("The details are not valid: one full name per line."), "error")
        return RedirectResponse(back, status_code=303)
    kept = False
    try:
        for message in messages:
            sent = await actions.publish(dash(request).settings, message)
            kept = kept or sent.kept_because is not None
    except (actions.NoServer, actions.Refused) as exc:
        log.warning("placement confirmation by %s refused: %s", user.name, type(exc).__name__)
        _say(request, N_("Not sent: the bus refused the confirmation."), "error")
        return RedirectResponse(back, status_code=303)
    log.info("%s confirmed %s at %s", user.name, request_id, shelter)
    if kept:
        _say(request, N_("Kept in the outbox: it will be sent when the bus is back."), "warn")
    else:
        _say(
            request,
            N_("Placement confirmed with %(shelter)s; other offers released."),
            shelter=shelter,
        )
    return RedirectResponse(back, status_code=303)
