"""The printable case file: heading, timeline, agenda, page numbers and a signature block, for
an official to print and sign; the people's details only for a caseworker who asks, recorded
first."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment
from sqlmodel import Session

from adapters import i18n
from adapters.dashboard.auth import User
from adapters.dashboard.web import dash, lang_of, viewer
from adapters.ledger.access_log import PersonalAccess, record_access
from adapters.ledger.store import SqlLedger
from adapters.readmodel.cases import CaseEvent, case_agenda, case_timeline, recipient_states
from adapters.readmodel.record_columns import AGENDA, TIMELINE
from bus.domain.agenda import AgendaItem
from bus.domain.errors import ServiceError
from schemas.registry import active_registry, state_name

router = APIRouter()
Viewer = Annotated[User, Depends(viewer)]
ACTION = "case_file_personal"


@dataclass(frozen=True)
class CaseFile:
    """What the printed file shows; ``people`` (message id -> names) is empty unless asked."""

    ref: str
    states: list[str]  # the states' names
    events: list[CaseEvent]
    agenda: list[AgendaItem]
    generated_at: datetime
    people: dict[str, str] = field(default_factory=dict)


def read_case_file(session: Session, ref: str, now: datetime) -> CaseFile:
    return CaseFile(
        ref,
        [state_name(code) for code in recipient_states(session, ref)],
        case_timeline(session, ref),
        case_agenda(session, ref, now),
        now,
    )


def _institution(agency: str) -> str:
    """An agency by its registry name, as a signed document names it."""
    found = active_registry().get(agency)
    return found.name if found else agency


def by_institution(case_file: CaseFile) -> CaseFile:
    """The same file with each agency id replaced by its institution's name."""
    return replace(
        case_file,
        events=[
            replace(e, source=_institution(e.source), to=_institution(e.to))
            for e in case_file.events
        ],
        agenda=[replace(a, agency=_institution(a.agency)) for a in case_file.agenda],
    )


def people_of(ledger: SqlLedger, events: list[CaseEvent]) -> dict[str, str]:
    """Names opened from the sealed store for this file only; never logged."""
    people = {}
    for event in events:
        found = ledger.personal(event.message_id, event.source)
        if found:
            listed = found if isinstance(found, list) else [found]
            names = "; ".join(str(p.get("full_name", "")) for p in listed if isinstance(p, dict))
            if names:
                people[event.message_id] = names
    return people


def stylesheet_text(templates: Environment) -> str:
    """The stylesheet in the current language: its margin boxes number the pages."""
    words = {"page": i18n.gettext("Page"), "of": i18n.gettext("of")}
    safe = {k: v.replace("\\", "").replace('"', "") for k, v in words.items()}  # CSS strings
    return templates.get_template("case_file.css").render(**safe)


def render_case_file(
    templates: Environment,
    case_file: CaseFile,
    lang: str,
    *,
    standalone: bool = False,
    may_ask_personal: bool = False,
) -> str:
    """The file as HTML; ``standalone``: the stylesheet inside the page (a file written by the
    command line has no server to fetch it from)."""
    with i18n.speaking(lang):
        css = stylesheet_text(templates) if standalone else None
        local = case_file.generated_at.astimezone(i18n.ZONE)
        return templates.get_template("case_file.html").render(
            lang=lang,
            file=by_institution(case_file),
            generated=i18n.gettext("%(time)s, Mexico City time (%(zone)s, UTC%(offset)s)")
            % {
                "time": i18n.local_time(local),
                "zone": local.tzname(),
                "offset": local.isoformat()[-6:],
            },
            timeline=TIMELINE,
            agenda_table=AGENDA,
            inline_css=css,
            may_ask_personal=may_ask_personal,
        )


BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class NoPdfPrinter(ServiceError):
    """No Chromium on this machine to print the case file to PDF, or it failed."""


def print_pdf(html: str, target: Path, timeout: float = 60.0) -> None:
    """``html`` printed to ``target`` by headless Chromium, which applies the file's own
    ``@page`` rules (numbered pages); raises NoPdfPrinter when none is installed or it fails."""
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if browser is None:
        raise NoPdfPrinter(
            i18n.gettext("No Chromium to print a PDF with: install it, or use --print FILE.html")
        )
    with tempfile.TemporaryDirectory() as work:
        page = Path(work) / "case-file.html"
        page.write_text(html, encoding="utf-8")
        args = [browser, "--headless", "--disable-gpu", f"--user-data-dir={work}/profile"]
        if os.geteuid() == 0:  # Chromium refuses to run as root inside its sandbox
            args.append("--no-sandbox")
        args += ["--no-pdf-header-footer", f"--print-to-pdf={target}", page.as_uri()]
        done = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0 or not target.exists():
        raise NoPdfPrinter(
            i18n.gettext("Chromium could not print the PDF (exit %(code)d)")
            % {"code": done.returncode}
        )


@router.get("/case-file.css")
async def stylesheet(request: Request) -> Response:
    """The case file's stylesheet, its page numbers worded in the session's language."""
    with i18n.speaking(lang_of(request)):
        css = stylesheet_text(dash(request).templates)
    return Response(css, media_type="text/css; charset=utf-8")


@router.get("/cases/{ref}/print")
async def print_case_file(
    request: Request,
    user: Viewer,
    ref: str,
    personal: Annotated[bool, Query()] = False,
) -> Response:
    state = dash(request)
    now = datetime.now(UTC)

    def read() -> CaseFile:
        with state.ledger.session() as session:
            return read_case_file(session, ref, now)

    case_file = await run_in_threadpool(read)
    if personal and user.sees_personal and case_file.events:
        # The record is written first and must succeed: no record, no details.
        access = PersonalAccess(
            actor=user.name,
            role=user.role.value,
            channel="dashboard",
            action=ACTION,
            case_refs=(ref,),
            matches=0,
        )
        await run_in_threadpool(record_access, state.ledger, access, now)
        people = await run_in_threadpool(people_of, state.ledger, case_file.events)
        case_file = replace(case_file, people=people)
    html = render_case_file(
        state.templates, case_file, lang_of(request), may_ask_personal=user.sees_personal
    )
    return HTMLResponse(html)
