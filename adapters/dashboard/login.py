"""Logging in and out (each attempt audited) and choosing the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from adapters import i18n
from adapters.dashboard import csrf
from adapters.dashboard.web import checked_form, dash, render, safe_back

router = APIRouter()
Form = Annotated[dict[str, str], Depends(checked_form)]


@router.get("/login")
async def login_page(request: Request) -> Response:
    if request.session.get("user"):
        return RedirectResponse("/pending", status_code=303)
    return render(request, "login.html", None)


@router.post("/login")
async def login(request: Request, form: Form) -> Response:
    name = form.get("name", "").strip()
    client = request.client.host if request.client else None
    user = await run_in_threadpool(
        dash(request).accounts.login, name, form.get("password", ""), client
    )
    if user is None:
        locked = await run_in_threadpool(dash(request).accounts.locked, name)
        with i18n.speaking(request.session.get("lang", i18n.DEFAULT)):
            error = (
                i18n.gettext("Too many failed attempts: try again in 15 minutes.")
                if locked
                else i18n.gettext("Wrong name or password.")
            )
        return render(request, "login.html", None, status_code=401, error=error, name=name)
    lang = request.session.get("lang")
    request.session.clear()  # a fresh session: nothing from before the login carries over
    request.session["user"] = user.name
    if lang:
        request.session["lang"] = lang
    csrf.rotate(request.session)
    return RedirectResponse("/pending", status_code=303)


@router.post("/logout")
async def logout(request: Request, form: Form) -> Response:
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    return RedirectResponse("/login", status_code=303)


@router.post("/lang")
async def choose_language(request: Request, form: Form) -> Response:
    request.session["lang"] = i18n.pick(form.get("lang"))
    return RedirectResponse(safe_back(form.get("back")), status_code=303)
