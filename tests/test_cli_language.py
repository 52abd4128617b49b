"""The command line speaks Spanish unless asked for English, in every view, its tables and its
CSV files alike: titles, headers, captions, notes and every code shown in words; ``--json``
keeps the keys and the codes for programs. Read on a ledger with traffic (the demo's record,
and a ledger holding dead letters and an outbox)."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from adapters import i18n
from adapters.i18n import LOCALE_DIR
from adapters.readmodel.columns import CODES
from schemas.registry import active_registry
from tests.cli_processes import MECHBUS, env_of, filled_ledger, invoke, run

CASE = "MPDDHP-2026-0412"  # the journalist's case of the demo
TABLE_VIEWS = [
    ["pending"],
    ["requests"],
    ["commitments"],
    ["case", CASE],
    ["scorecard"],
    ["agenda", CASE],
    ["shelters"],
    ["placements"],
    ["board", "agenda"],
    ["federal", "list"],
    ["federal", "scorecard"],
    ["dlq", "list"],
    ["outbox", "list"],
    ["iachr", "list"],
]
CSV_VIEWS = [v for v in TABLE_VIEWS if v != ["requests"]]  # `requests` has no --csv
LANGS = ["es", "en"]

# Words of the interface in each language that must never show in the other's output
# (ids, case numbers, institutions and what agencies wrote are left out first).
ENGLISH = (
    "request",
    "requests",
    "pending",
    "overdue",
    "acknowledge",
    "acknowledged",
    "acknowledgement",
    "commitment",
    "commitments",
    "sent",
    "delivered",
    "accepted",
    "declined",
    "yes",
    "none",
    "status",
    "agency",
    "due",
    "escalated",
    "reminder",
    "not yet",
    "case",
    "kind",
    "urgent",
    "ordinary",
    "owes",
    "shelter",
    "capacity",
    "stale",
    "received",
    "reason",
    "sender",
    "message",
    "session",
    "consent",
    "deadline",
    "within",
    "unanswered",
    "open",
    "state",
    "clock",
    "unit",
    "met",
    "outbox",
    "published",
    "dead letters",
    "measure",
    "investigation",
    "information",
    "relocation",
    "protection",
    "rows",
    "more follow",
    "times in",
)
SPANISH = (
    "solicitud",
    "solicitudes",
    "expediente",
    "pendiente",
    "vencida",
    "vencido",
    "vencimiento",
    "vence",
    "acuse",
    "compromiso",
    "compromisos",
    "enviada",
    "entregada",
    "aceptada",
    "rechazada",
    "sí",
    "ninguna",
    "situación",
    "autoridad",
    "escalamiento",
    "recordatorio",
    "todavía",
    "urgente",
    "ordinaria",
    "adeuda",
    "casa refugio",
    "desactualizado",
    "recibido",
    "motivo",
    "remitente",
    "mensaje",
    "sesión",
    "consentimiento",
    "plazo",
    "sin respuesta",
    "abiertos",
    "entidad federativa",
    "unidad",
    "cumplida",
    "bandeja",
    "rechazados",
    "medida",
    "investigación",
    "información",
    "reubicación",
    "filas",
    "horas en",
)
FORBIDDEN = {"es": ENGLISH, "en": SPANISH}
# Ids and numbers people read as they are: agency and subject ids (gro.government,
# mech.v1.from...), ULIDs and their tails, case, session and MC numbers, times.
IDS = re.compile(
    r"\b[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+\b|\b[0-9A-Z]{6,26}\b|\b[A-Z]+(?:-[0-9A-Z]+)+\b"
    r"|\d{4}-\d{2}-\d{2}[T ][\d:.+Z-]*"
)
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two ledgers with traffic: the demo's home (requests, answers, commitments, the ladder,
    the Board, the Mechanism's own clocks, shelters, an IACHR measure) and a ledger holding
    seven of every list, dead letters and the outbox among them."""
    home = tmp_path_factory.mktemp("language") / "home"
    demo = run(["demo"], home)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    filled = filled_ledger(tmp_path_factory.mktemp("filled") / "ledger.db")
    return {"home": home, "filled": filled}


def _shown(record: dict[str, Any], lang: str, view: list[str], *extra: str) -> list[str]:
    """What ``mechbus --lang LANG VIEW`` prints on each ledger (stdout, then stderr)."""
    outputs = []
    for ledger in ([], ["--ledger-url", record["filled"]]):
        result = invoke(["--lang", lang, *view, *extra, *ledger], record["home"])
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout + result.stderr)
    return outputs


def _content(record: dict[str, Any], view: list[str]) -> set[str]:
    """The words of what the ledger holds in ``view`` (institutions, actions, roles, ids),
    from its JSON lines: every value but the codes, which must be shown in words."""
    words: set[str] = set()
    for agency in active_registry():  # institutions are named as they are, in any language
        words |= set(re.findall(r"\w+", f"{agency.name} {agency.head or ''}".lower()))
    for ledger in ([], ["--ledger-url", record["filled"]]):
        result = invoke([*view, "--json", *ledger], record["home"])
        assert result.exit_code == 0, result.output
        for line in result.stdout.splitlines():
            for key, value in json.loads(line).items():
                if key == "detail" and view[0] == "case":  # field names: shown in words
                    continue
                if value is None or isinstance(value, bool) or _is_code(value):
                    continue
                words |= set(re.findall(r"\w+", str(value).lower()))
    return words


def _is_code(value: object) -> bool:
    code = str(value)
    return code in CODES or code.removeprefix("mech.").removesuffix(".v1") in CODES


def _foreign(text: str, lang: str, content: set[str]) -> list[str]:
    """The other language's interface words in ``text``, leaving out ids and content."""
    plain = IDS.sub(" ", text).lower()
    found = []
    for word in FORBIDDEN[lang]:
        if all(part in content for part in word.split()):
            continue  # e.g. an institution's name, or an action in an agency's words
        if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", plain):
            found.append(word)
    return found


@pytest.mark.e2e  # the demo runs as its own process
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("view", TABLE_VIEWS, ids=" ".join)
def test_every_table_speaks_the_chosen_language(
    record: dict[str, Any], lang: str, view: list[str]
) -> None:
    content = _content(record, view)
    for text in _shown(record, lang, view, "--limit", "1"):  # "more follow", too
        assert not _foreign(text, lang, content), text
        if lang == "es":  # every code in words
            codes = set(SNAKE.findall(IDS.sub(" ", text))) - content
            assert not codes, text


@pytest.mark.e2e
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("view", CSV_VIEWS, ids=" ".join)
def test_every_csv_has_translated_headers_and_codes_in_words(
    record: dict[str, Any], lang: str, view: list[str]
) -> None:
    translation = i18n.translations(lang)
    for ledger in ([], ["--ledger-url", record["filled"]]):
        data = invoke([*view, "--json", *ledger], record["home"])
        table = invoke(["--lang", lang, *view, "--csv", *ledger], record["home"])
        assert data.exit_code == 0 and table.exit_code == 0, data.output + table.output
        # an id shown by its name is one column in the CSV, two keys in JSON (id and name)
        documents = [json.loads(line) for line in data.stdout.splitlines()]
        named = {k.removesuffix("_name") for r in documents for k in r if k.endswith("_name")}
        rows = [
            {
                k: v
                for k, v in r.items()
                if k.removesuffix("_name") not in named or not k.endswith("_name")
            }
            for r in documents
        ]
        header, *lines = list(csv.reader(io.StringIO(table.stdout)))
        assert len(lines) == len(rows)
        keys = list(rows[0]) if rows else []
        if rows:
            assert len(header) == len(keys)
        for key, name in zip(keys, header, strict=False):
            if lang == "es":
                assert name != key or name == "Total", (key, header)
        assert not _foreign(" ".join(header), lang, set()), header
        for row, line in zip(rows, lines, strict=True):
            for (key, value), cell in zip(row.items(), line, strict=True):
                if key in named:
                    continue  # the CSV gives the name of what JSON identifies
                if isinstance(value, bool) or (value is not None and _is_code(value)):
                    code = str(value)
                    msgid = CODES.get(code) or CODES[code.removeprefix("mech.").removesuffix(".v1")]
                    assert cell == translation.gettext(msgid), (key, value, cell)
                    if lang == "es" and SNAKE.fullmatch(code):
                        assert cell != code, (key, cell)


@pytest.mark.e2e
def test_json_keeps_the_keys_and_the_codes(record: dict[str, Any]) -> None:
    spanish = invoke(["--lang", "es", "pending", "--json"], record["home"])
    english = invoke(["--lang", "en", "pending", "--json"], record["home"])
    assert spanish.exit_code == 0 and english.exit_code == 0
    rows = [json.loads(line) for line in spanish.stdout.splitlines()]
    assert rows and {"request", "case", "kind", "urgency", "owes"} <= set(rows[0])
    assert {r["owes"] for r in rows} <= {"acknowledgement", "answer"}
    strip = [{k: v for k, v in r.items() if k != "overdue_hours"} for r in rows]
    again = [json.loads(line) for line in english.stdout.splitlines()]
    assert strip == [{k: v for k, v in r.items() if k != "overdue_hours"} for r in again]


@pytest.mark.e2e
def test_the_default_is_spanish_and_mechbus_lang_chooses_english(tmp_path: Path) -> None:
    url = filled_ledger(tmp_path / "ledger.db")
    spanish = run(["pending", "--ledger-url", url], tmp_path / "home")
    assert spanish.returncode == 0, spanish.stderr
    assert "Solicitudes sin respuesta" in spanish.stdout and "Expediente" in spanish.stdout
    english = subprocess.run(
        [*MECHBUS, "pending", "--ledger-url", url],
        env={**env_of(tmp_path / "home"), "MECHBUS_LANG": "en"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert english.returncode == 0, english.stderr
    assert "Unanswered requests" in english.stdout and "Case" in english.stdout


# What the command line says is read from these modules (the views' words and its messages).
SPEAKING = [
    *sorted((Path(__file__).parents[1] / "adapters" / "cli").glob("*.py")),
    *(
        Path(__file__).parents[1] / "adapters" / name
        for name in (
            "output.py",
            "paging.py",
            "readmodel/columns.py",
            "readmodel/record_columns.py",
            "readmodel/figure_columns.py",
            "readmodel/terminal.py",
        )
    ),
]


def _msgids(path: Path) -> Iterator[tuple[int, str]]:
    """Every literal given to ``_``, ``gettext`` or ``N_``, inside f-strings too (where
    pybabel's extraction does not look)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("_", "gettext", "N_")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def test_every_string_the_command_line_says_is_in_the_catalogue() -> None:
    with open(LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.po", "rb") as po_file:
        translated = {m.id for m in read_po(po_file) if m.id and m.string}
    missing = [
        f"{path.name}:{line}: {msgid!r}"
        for path in SPEAKING
        for line, msgid in _msgids(path)
        if msgid not in translated
    ]
    assert len(SPEAKING) > 20
    assert not missing, "not in the Spanish catalogue:\n" + "\n".join(missing)


def test_every_code_has_its_spanish_words() -> None:
    spanish = i18n.translations("es")
    same = {"provisional", "no", "Total"}  # spelt alike in both languages
    untranslated = [m for m in CODES.values() if spanish.gettext(m) == m and m not in same]
    assert not untranslated
