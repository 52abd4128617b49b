"""No English word on a Spanish page, no Spanish word on an English one: every page the
dashboard has, rendered for an operator on a ledger with traffic of every kind, its visible text
stripped of what is data (ids, case numbers, institutions, what agencies wrote), then searched
for the other language's interface words. The CSV files' codes must have a Spanish name."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from adapters import i18n
from adapters.dashboard.app import create_app
from adapters.ledger.tables import DeadLetterRow, MessageRow
from adapters.readmodel import columns as cols
from adapters.readmodel import figure_columns, record_columns
from adapters.settings import Settings, load_settings
from bus.domain import subjects
from bus.domain.federal_clocks import Standing
from bus.domain.policy import Clock, Policy
from bus.domain.ports import Delivery
from bus.domain.recording import record_batch
from bus.domain.request_state import CommitmentStatus, RecipientStatus
from bus.domain.rules import Rules
from schemas.measures import MeasureKind
from schemas.messages import MESSAGE_TYPES
from schemas.registry import active_registry, state_codes, state_name
from schemas.responses import DeclineReason
from schemas.tracking import AggressorAction, EscalationLevel, RejectionReason
from tests import bad_inputs, forecast_history
from tests import builders as b
from tests.dashboard.staff import add_accounts, csrf_of, login
from tests.ledgers import home_ledger

pytestmark = pytest.mark.e2e  # the ledger is the demo's, played by `mechbus demo`

CASE = "MPDDHP-2026-0412"  # the builders' case, which the demo also has
# Interface words of each language; none is also a word of the other (Spanish "no" is left
# out for that reason), and each is matched whole, so "urgent" does not find "urgente".
ENGLISH = [
    "request",
    "requests",
    "pending",
    "unanswered",
    "overdue",
    "acknowledge",
    "acknowledged",
    "acknowledgement",
    "commitment",
    "commitments",
    "sent",
    "delivered",
    "none",
    "status",
    "agency",
    "agencies",
    "due",
    "escalated",
    "reminder",
    "protection",
    "measure",
    "measures",
    "investigation",
    "information",
    "relocation",
    "yes",
    "answer",
    "answered",
    "shelter",
    "shelters",
    "board",
    "session",
    "placement",
    "offer",
    "confirmed",
    "declined",
    "accepted",
    "open",
    "late",
    "summons",
    "urgent",
    "ordinary",
    "receipt",
    "notice",
    "report",
    "authority",
    "rung",
    "reason",
    "question",
    "official",
    "role",
    "case",
    "timeline",
    "download",
    "print",
    "nothing",
    "seconds",
    "minutes",
    "hours",
    "days",
    "the",
    "and",
    "of",
    "with",
    "from",
    "by",
    "for",
]
SPANISH = [
    "solicitud",
    "solicitudes",
    "pendiente",
    "pendientes",
    "vencida",
    "vencidas",
    "vencido",
    "vencidos",
    "vence",
    "compromiso",
    "compromisos",
    "enviada",
    "entregada",
    "ninguna",
    "ninguno",
    "situación",
    "autoridad",
    "autoridades",
    "escalamiento",
    "recordatorio",
    "medida",
    "medidas",
    "investigación",
    "sí",
    "acuse",
    "expediente",
    "refugio",
    "junta",
    "sesión",
    "respuesta",
    "urgente",
    "ordinaria",
    "mensaje",
    "mensajes",
    "rechazado",
    "rechazada",
    "descargar",
    "abrir",
    "cerrar",
    "consentimiento",
    "plazo",
    "mecanismo",
    "cidh",
    "estado",
    "horas",
    "segundos",
    "minutos",
    "días",
    "del",
    "los",
    "las",
    "para",
    "por",
    "con",
    "sin",
    "una",
    "que",
    "también",
]


class _Visible(HTMLParser):
    """The text a person sees: no tags, no attributes, no scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return "\n".join(parser.parts)


IDS = re.compile(
    r"https?://\S+|\bmech\.v1\.\S+"  # URLs, NATS subjects
    r"|MPDDHP-\d{4}-\d{4}|MC-\d+-\d+|JG-\d{4}-\d+"  # case, IACHR measure and session numbers
    r"|\b[a-z]+\.[a-z0-9-]+\b"  # agency ids (gro.government, shelter.casa-norte, fed.hub)
    r"|…[0-9A-Za-z]{8}|\b[0-9A-HJKMNP-TV-Z]{26}\b"  # request ids, shortened and whole
    rf"|\b(?:{'|'.join(state_codes())})\b"  # states' codes (QUE, SIN)
)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def data_strings(settings: Settings) -> list[str]:
    """What is data, not interface, longest first: institutions' and states' names, every
    phrase the Mechanism and the agencies wrote in their messages (a code has no space, so
    codes stay in the text and must be shown translated), and what the bus told the sender of
    each dead letter, quoted as sent (in the contract's language; its reason is translated)."""
    found = {a.name for a in active_registry()} | {state_name(c) for c in state_codes()}
    ledger = home_ledger(settings)
    try:
        with ledger.session() as session:
            for body in session.exec(select(MessageRow.body)):
                found |= {s for s in _strings(json.loads(body).get("data", {})) if " " in s}
            found |= {d for d in session.exec(select(DeadLetterRow.detail)) if d}
    finally:
        ledger.close()
    return sorted(found, key=len, reverse=True)


def words_of(text: str, words: Sequence[str], data: Sequence[str]) -> set[str]:
    for phrase in data:
        text = text.replace(phrase, " ")
    text = IDS.sub(" ", text)
    return {w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text, re.IGNORECASE)}


def _deliveries(messages: Sequence[Any], first_seq: int) -> list[Delivery]:
    return [
        Delivery(subjects.routes(m, b.REGISTRY)[0][0], m.to_json(), seq)
        for seq, m in enumerate(messages, first_seq)
    ]


def add_traffic(settings: Settings) -> None:
    """Beside the demo's week: a provisional answer, a commitment reported on and withdrawn, a
    recalled request, and every kind of bad input the hub keeps as a dead letter."""
    provisional = b.patrol_request()
    withdrawn = b.patrol_request()
    recalled = b.investigation_request()
    messages = [
        provisional,
        b.receipt(provisional.id),
        b.acknowledgement(provisional.id),
        b.provisional(provisional.id),
        withdrawn,
        b.acknowledgement(withdrawn.id),
        b.acceptance(withdrawn.id),
        b.commitment(withdrawn.id),
        b.progress(withdrawn.id),
        b.withdrawn(withdrawn.id),
        recalled,
        b.recall(recalled.id, recalled.recipients[0]),
    ]
    # the agencies name the case in their answers, as the demo's do
    messages = [m if m.subject else m.model_copy(update={"subject": CASE}) for m in messages]
    seq = 1_000_000  # beyond the demo's stream
    deliveries = _deliveries(messages, seq)
    deliveries += [
        Delivery(bad.subject, bad.body, seq + len(messages) + i)
        for i, bad in enumerate(bad_inputs.catalogue(provisional.id))
    ]
    ledger = home_ledger(settings)
    try:
        record_batch(
            ledger, deliveries, b.T0 + timedelta(hours=1), Rules(b.REGISTRY, Policy.load())
        )
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def traffic(demo_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("spanish") / "home"
    shutil.copytree(demo_copy, home)
    (home / "nats.url").unlink(missing_ok=True)
    settings = load_settings(home=home, ledger_url=None, nats_url=None)
    add_traffic(settings)
    return settings


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A ledger with the six weeks of history a projection needs."""
    settings = load_settings(home=tmp_path_factory.mktemp("projection") / "home")
    ledger = home_ledger(settings)
    try:
        forecast_history.fill(ledger, now=datetime.now(UTC) - timedelta(hours=1))
    finally:
        ledger.close()
    add_accounts(settings)
    return settings


def case_refs(client: TestClient) -> list[str]:
    """Every case with a message, read from the pages themselves."""
    found: set[str] = set()
    for page in ("/pending", "/commitments", "/board", "/shelters"):
        found |= set(re.findall(r'href="/cases/([^"?]+)"', client.get(page).text))
    return sorted(found | {CASE, "MPDDHP-2026-0388"})


def every_page(client: TestClient) -> dict[str, str]:
    """Each page's HTML, as an operator sees it (with the actions' buttons), and the refusal
    and login pages."""
    month = datetime.now(i18n.ZONE).strftime("%Y-%m")
    pages = ["/", "/pending", "/commitments", "/scorecard", f"/scorecard?month={month}"]
    pages += ["/shelters", "/board", "/dead-letters", "/forecast", "/forecast?officers=12"]
    pages += [f"/case?ref={CASE}", *(f"/cases/{ref}" for ref in case_refs(client))]
    shown = {}
    for page in pages:
        response = client.get(page, headers={"Accept": "text/html"})
        assert response.status_code == 200, (page, response.status_code)
        shown[page] = response.text
    # a form posted without its token: the refusal page
    refused = client.post("/actions/remind", data={"request_id": "x", "agency": "gro.government"})
    assert refused.status_code == 403
    shown["refused"] = refused.text
    return shown


def logged_out_pages(client: TestClient) -> dict[str, str]:
    shown = {"/login": client.get("/login").text}
    wrong = client.post(
        "/login", data={"name": "omar", "password": "no es", "csrf_token": csrf_of(shown["/login"])}
    )
    assert wrong.status_code == 401
    shown["/login (wrong password)"] = wrong.text
    return shown


def offending(pages: dict[str, str], words: Sequence[str], data: Sequence[str]) -> dict[str, Any]:
    found = {}
    for page, html in pages.items():
        wrong = words_of(visible_text(html), words, data)
        if wrong:
            found[page] = sorted(wrong)
    return found


def test_spanish_pages_have_no_english_word(traffic: Settings) -> None:
    data = data_strings(traffic)
    with TestClient(create_app(traffic, poll_interval=3600)) as client:
        anonymous = logged_out_pages(client)
        login(client, "omar")
        pages = {**anonymous, **every_page(client)}
    assert all('<html lang="es">' in html for html in pages.values())
    # the text is really there to search: the extra case's timeline and the dead letters
    assert "respuesta provisional" in visible_text(pages[f"/cases/{CASE}"])
    assert "compromiso retirado" in visible_text(pages[f"/cases/{CASE}"])
    assert "ilegible (no es un objeto JSON)" in visible_text(pages["/dead-letters"])
    assert offending(pages, ENGLISH, data) == {}


def test_english_pages_have_no_spanish_word(traffic: Settings) -> None:
    data = data_strings(traffic)
    with TestClient(create_app(traffic, poll_interval=3600)) as client:
        token = csrf_of(client.get("/login").text)
        client.post("/lang", data={"lang": "en", "csrf_token": token, "back": "/login"})
        anonymous = logged_out_pages(client)
        login(client, "omar")
        pages = {**anonymous, **every_page(client)}
    assert all('<html lang="en">' in html for html in pages.values())
    assert "provisional answer" in visible_text(pages[f"/cases/{CASE}"])
    assert offending(pages, SPANISH, data) == {}


def test_the_projection_with_its_tables_in_both_languages(history: Settings) -> None:
    with TestClient(create_app(history, poll_interval=3600)) as client:
        token = login(client, "omar")
        spanish = client.get("/forecast?officers=12").text
        assert "Proyección de la carga de casos" in spanish and "<table" in spanish
        client.post("/lang", data={"lang": "en", "csrf_token": token, "back": "/forecast"})
        english = client.get("/forecast?officers=12").text
        assert "Caseload projection" in english and "<table" in english
    data = data_strings(history)
    assert words_of(visible_text(spanish), ENGLISH, data) == set()
    assert words_of(visible_text(english), SPANISH, data) == set()


# Each CSV file and its columns (the files keep codes; their headers are another matter).
CSV_TABLES: list[tuple[str, Sequence[cols.Col]]] = [
    ("/pending?format=csv", record_columns.PENDING),
    ("/commitments?format=csv", record_columns.COMMITMENTS),
    ("/scorecard?format=csv", figure_columns.SCORECARD),
    ("/shelters?format=csv", figure_columns.SHELTERS),
    ("/shelters?format=csv&table=placements", record_columns.PLACEMENTS),
    ("/board?format=csv", record_columns.BOARD),
    ("/dead-letters?format=csv", record_columns.DEAD_LETTERS),
]


def test_every_code_in_the_csv_files_has_a_spanish_name(traffic: Settings) -> None:
    """A code column's values are codes with a Spanish name in the catalogue (or already that
    name): what a Spanish reader of the file can be shown, with no English word in it."""
    with TestClient(create_app(traffic, poll_interval=3600)) as client:
        login(client, "omar")
        tables = list(CSV_TABLES)
        for ref in case_refs(client):
            tables += [
                (f"/cases/{ref}?format=csv", record_columns.TIMELINE),
                (f"/cases/{ref}?format=csv&table=agenda", record_columns.AGENDA),
            ]
        files = {path: client.get(path).text for path, _ in tables}
    untranslated: dict[str, set[str]] = {}
    seen = 0
    with i18n.speaking("es"):
        names = {i18n.gettext(name) for name in cols.CODES.values()}
        for path, table in tables:
            rows = list(csv.reader(io.StringIO(files[path])))[1:]
            for index, col in enumerate(table):
                if col.kind not in ("code", "codes"):
                    continue
                for row in rows:
                    for value in row[index].split(" + ") if col.kind == "codes" else [row[index]]:
                        if not value:
                            continue
                        seen += 1
                        if value in cols.CODES:
                            wrong = words_of(i18n.gettext(cols.CODES[value]), ENGLISH, ())
                        else:  # a Spanish name already, or what an agency wrote (its action)
                            code_like = re.fullmatch(r"[a-z]+(_[a-z]+)*", value)
                            wrong = value not in names and (
                                code_like or words_of(value, ENGLISH, ())
                            )
                        if wrong:
                            untranslated.setdefault(path, set()).add(value)
    assert seen > 50  # statuses, kinds, reasons, flags: the files are not empty
    assert untranslated == {}


def test_every_code_a_page_can_show_has_a_spanish_name() -> None:
    """Not only the codes the demo happens to produce: every status, clock, rung, reason,
    measure and message type the contract and the domain define."""
    codes = [
        *RecipientStatus,
        *CommitmentStatus,
        *Clock,
        *EscalationLevel,
        *RejectionReason,
        *DeclineReason,
        *MeasureKind,
        *AggressorAction,
        *Standing,
    ]
    codes += [kind.removeprefix("mech.").removesuffix(".v1") for kind in MESSAGE_TYPES]
    missing = [c for c in codes if c not in cols.CODES]
    assert missing == []
    with i18n.speaking("es"):
        spanish = {c: i18n.gettext(cols.CODES[c]) for c in codes}
    assert {c: s for c, s in spanish.items() if words_of(s, ENGLISH, ())} == {}
    same = {c: s for c, s in spanish.items() if s == cols.CODES[c]}
    assert same == {"provisional": "provisional"}  # the one word both languages share
