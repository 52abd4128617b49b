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

from adapters import i18n
from adapters.dashboard.auth import User
from adapters.dashboard.web import checked_form, dash, flash, lang_of, operator, safe_back
from adapters.i18n import N_
from adapters.readmodel import references
from adapters.readmodel.names import institution
from adapters.service import actions

router = APIRouter(prefix="/actions")
log = logging.getLogger("mechbus.dashboard")
Operator = Annotated[User, Depends(operator)]
Form = Annotated[dict[str, str], Depends(checked_form)]


def _say(request: Request, message: str, tone: str = "ok", **values: Any) -> None:
    with i18n.speaking(lang_of(request)):
        flash(request, i18n.gettext(message) % values, tone)


async def _whole_id(request: Request, typed: str) -> str:
    """The request's whole id from the form (whole, or 6 characters of its start or end);
    ``UnknownReference`` in the page's language otherwise."""
    lang = lang_of(request)

    def find() -> str:
        with i18n.speaking(lang), dash(request).ledger.session() as session:
            return references.request_id(session, typed)

    return await run_in_threadpool(find)


async def _rung(request: Request, user: User, form: dict[str, str], *, escalate: bool) -> Response:
    agency = form.get("agency", "")
    back = safe_back(form.get("back"))
    try:
        request_id = await _whole_id(request, form.get("request_id", ""))
    except references.UnknownReference as problem:
        flash(request, str(problem), "error")
        return RedirectResponse(back, status_code=303)
    try:
        message = await actions.fire_rung_now(
            dash(request).settings, request_id, agency, escalate=escalate, now=datetime.now(UTC)
        )
    except actions.NotOwed as exc:
        _say(request, _NOTHING_TO_SEND[exc.code], "error", agency=institution(agency))
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
        agency=institution(agency),
        id=message.id[-8:],
    )
    return RedirectResponse(back, status_code=303)


# Why pressing the button sent nothing (adapters.service.actions.NotOwed.code).
_NOTHING_TO_SEND = {
    "not_overdue": N_(
        "Nothing to send: %(agency)s has answered or is not overdue yet; a reminder goes only "
        "after the deadline."
    ),
    "reminder_sent": N_(
        "Nothing to send: %(agency)s was reminded already; escalate to send the next step."
    ),
    "ladder_done": N_("Nothing to send: every step of the ladder has been sent to %(agency)s."),
}

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


CONFIRM_WAIT = 10.0  # seconds the page waits for the hub to record or refuse a confirmation

# Why the ledger already rules a confirmation out (adapters.service.actions.Unplaceable.code).
_UNPLACEABLE = {
    "not_offered": N_("That shelter has no open offer for this relocation."),
    "already_placed": N_("Not confirmed: this relocation is already placed with %(shelter)s."),
    "no_capacity": N_("Not confirmed: %(shelter)s has %(free)s free spaces for %(people)s people."),
}


@router.post("/confirm-placement")
async def confirm_placement(request: Request, user: Operator, form: Form) -> Response:
    request_id, shelter = form.get("request_id", ""), form.get("shelter", "")
    back = safe_back(form.get("back"), "/shelters")
    # Names are typed only by those who may see them; a coordinator confirms without them and
    # a caseworker sends them later. They travel in the POST body, never in a URL or a log.
    names = form.get("names", "") if user.sees_personal else ""
    personal = [{"full_name": n.strip()} for n in names.splitlines() if n.strip()]

    try:
        request_id = await _whole_id(request, request_id)
    except references.UnknownReference as problem:
        flash(request, str(problem), "error")
        return RedirectResponse(back, status_code=303)

    def load() -> actions.Relocation | None:
        with dash(request).ledger.session() as session:
            return actions.load_relocation(session, request_id)

    relocation = await run_in_threadpool(load)
    if relocation is None:
        _say(request, _UNPLACEABLE["not_offered"], "error")
        return RedirectResponse(back, status_code=303)
    try:
        placed = await actions.confirm_placement(
            dash(request).settings, relocation, shelter, personal, CONFIRM_WAIT
        )
    except actions.Unplaceable as exc:
        named = {k: institution(v) if k == "shelter" else v for k, v in exc.values.items()}
        _say(request, _UNPLACEABLE[exc.code], "error", **named)
        return RedirectResponse(back, status_code=303)
    except ValidationError:
        _say(request, N_("The details are not valid: one full name per line."), "error")
        return RedirectResponse(back, status_code=303)
    except actions.ToPresumedAggressor:
        message = N_("Not sent: %(shelter)s is named presumed aggressor on this case.")
        _say(request, message, "error", shelter=institution(shelter))
        return RedirectResponse(back, status_code=303)
    except (actions.NoServer, actions.SendRefused) as exc:
        log.warning("placement confirmation by %s refused: %s", user.name, type(exc).__name__)
        _say(request, N_("Not sent: the bus refused the confirmation."), "error")
        return RedirectResponse(back, status_code=303)
    log.info("%s confirmed %s at %s: %s", user.name, request_id, shelter, _verdict(placed))
    _say_placed(request, placed, shelter)
    return RedirectResponse(back, status_code=303)


def _verdict(placed: actions.Placed) -> str:
    return "recorded" if placed.recorded else placed.refused or "not recorded yet"


def _say_placed(request: Request, placed: actions.Placed, shelter: str) -> None:
    if placed.recorded:
        _say(
            request,
            N_("Placement confirmed with %(shelter)s; other offers released."),
            shelter=institution(shelter),
        )
    elif placed.refused is not None:
        reason = placed.refused.split(":", 1)[0]  # the reason code; the detail is for the log
        _say(
            request,
            N_("The hub refused the confirmation (%(reason)s); nothing was sent to the shelter."),
            "error",
            reason=reason,
        )
    elif placed.kept_because is not None:
        _say(request, N_("Kept in the outbox: it will be sent when the bus is back."), "warn")
    else:
        _say(
            request,
            N_("Sent, but the hub has not recorded it yet: check the placements in a moment."),
            "warn",
        )
