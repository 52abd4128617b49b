"""Searching the ledger from the command line: by part of a case number, by words of a
request, by institution in Spanish without accents; people through the blind index, each
search recorded without the name; and the index rebuilt for messages recorded before."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from sqlmodel import select

from adapters.ledger.people import tokens_for
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import PersonalAccessRow, PersonIndexRow, RequestTextRow
from adapters.natsserver.server import EmbeddedNatsServer
from adapters.readmodel.search import person_hits, person_lines
from adapters.settings import load_settings
from bus.domain import subjects
from bus.domain.personal import fold
from bus.domain.ports import Delivery
from bus.domain.recording import record_batch
from bus.runtime.hub import Hub
from tests import builders as b
from tests.cli_processes import invoke, json_lines
from tests.ledgers import home_ledger

ANA = "Ana Pérez López"
JUAN = "Juan Ruiz Ortega"
ROSA, LUIS = "Rosa Martínez Núñez", "Luis Gómez Pérez"
NAMES = (ANA, JUAN, ROSA, LUIS)


def _with_people(message: Any, people: Any) -> Any:
    return type(message)(
        **{**message.model_dump(), "data": {**message.data.model_dump(), "personal": people}}
    )


def _messages() -> list[Any]:
    now = datetime.now(UTC)
    patrol = _with_people(
        b.patrol_request(at=now), {"full_name": ANA, "address": "Calle 5, Iguala"}
    )
    threats = _with_people(
        b.investigation_request(at=now, subject="MPDDHP-2026-0500"), {"full_name": JUAN}
    )
    relocation = b.relocation_request(
        at=now,
        subject="MPDDHP-2025-0077",
        data={
            **b.relocation_request().data.model_dump(),
            "personal": [{"full_name": ROSA}, {"full_name": LUIS}],
        },
    )
    return [patrol, threats, relocation]


def _record(ledger: SqlLedger, messages: list[Any]) -> None:
    deliveries = [
        Delivery(subjects.routes(m, b.REGISTRY)[0][0], m.to_json(), seq)
        for seq, m in enumerate(messages, 1)
    ]
    record_batch(ledger, deliveries, datetime.now(UTC), b.RULES)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home whose ledger (sealed with the home's key) holds three cases with people."""
    home = tmp_path / "home"
    ledger = home_ledger(load_settings(home=home))
    try:
        _record(ledger, _messages())
    finally:
        ledger.close()
    return home


def _cases(rows: list[dict[str, Any]]) -> set[str]:
    return {row["case"] for row in rows}


def _accesses(home: Path) -> list[PersonalAccessRow]:
    ledger = home_ledger(load_settings(home=home))
    try:
        with ledger.session() as session:
            return list(session.exec(select(PersonalAccessRow)).all())
    finally:
        ledger.close()


# --- requests -------------------------------------------------------------------------------


def test_part_of_a_case_number_finds_its_requests_in_any_case(home: Path) -> None:
    assert _cases(json_lines(["search", "0412"], home)) == {"MPDDHP-2026-0412"}
    assert _cases(json_lines(["search", "mpddhp-2026"], home)) == {
        "MPDDHP-2026-0412",
        "MPDDHP-2026-0500",
    }
    shelters = json_lines(["search", "2025-0077"], home)
    assert {row["found_by"] for row in shelters} == {"case"}
    assert len(shelters) == 2  # one line per shelter asked


def test_words_of_a_request_find_it_whatever_the_accents_and_case(home: Path) -> None:
    [patrol] = json_lines(["search", "RONDINES perimetrales"], home)
    assert patrol["case"] == "MPDDHP-2026-0412" and patrol["found_by"] == "text"
    # "atención psicológica", typed without accents
    assert _cases(json_lines(["search", "atencion psicologica"], home)) == {"MPDDHP-2025-0077"}
    assert json_lines(["search", "rondines carpeta"], home) == []  # every word, one request


def test_an_institution_named_in_spanish_without_accents_finds_the_requests_to_it(
    home: Path,
) -> None:
    [line] = json_lines(["search", "fiscalia guerrero"], home)
    assert line["institution"] == "Fiscalía General del Estado de Guerrero"
    assert (line["case"], line["kind"], line["state"]) == (
        "MPDDHP-2026-0500",
        "investigation",
        "GRO",
    )
    assert line["found_by"] == "institution"
    csv = invoke(["search", "secretaria general de gobierno guerrero", "--csv"], home)
    assert csv.exit_code == 0
    header, *rows = csv.stdout.splitlines()
    assert header == "Expediente,Solicitud,Tipo,Institución,Estado,Situación,Enviada,Encontrada por"
    assert len(rows) == 1 and "MPDDHP-2026-0412" in rows[0]


def test_a_search_that_finds_nothing_says_so_and_a_missing_query_is_refused(home: Path) -> None:
    none = invoke(["search", "helicóptero"], home)
    assert none.exit_code == 0
    assert "No se encontró nada" in none.stdout
    english = invoke(["--lang", "en", "search", "helicopter"], home)
    assert "Nothing found for “helicopter”." in english.stdout
    missing = invoke(["search"], home)
    assert missing.exit_code == 2 and "--person" in missing.stdout


# --- people -------------------------------------------------------------------------------


def test_a_person_is_found_by_the_whole_name_in_another_order_and_by_surname(home: Path) -> None:
    [found] = json_lines(["search", "--person", "lopez perez, ANA"], home)
    assert (found["case"], found["person"]) == ("MPDDHP-2026-0412", ANA)
    by_surname = json_lines(["search", "--person", "Martinez"], home)
    assert _cases(by_surname) == {"MPDDHP-2025-0077"}
    # the relocation names Rosa and Luis: only Rosa is shown
    assert {row["person"] for row in by_surname} == {ROSA}
    # "Pérez" is the surname of Ana and of Luis: both their cases, each with their own name
    both = json_lines(["search", "--person", "PEREZ"], home)
    assert {(row["case"], row["person"]) for row in both} == {
        ("MPDDHP-2026-0412", ANA),
        ("MPDDHP-2025-0077", LUIS),
    }
    assert json_lines(["search", "--person", "Ana Ruiz"], home) == []  # words of two people


def test_each_person_search_is_recorded_once_without_what_was_searched(home: Path) -> None:
    json_lines(["search", "--person", "Juan Ruiz"], home)
    json_lines(["search", "--person", "Nadie Conocido"], home)
    first, second = _accesses(home)
    assert (first.action, first.channel, first.actor) == ("person_search", "cli", getpass.getuser())
    assert (first.case_refs, first.matches) == ("MPDDHP-2026-0500", 1)
    assert (second.case_refs, second.matches) == ("", 0)
    for row in (first, second):
        assert "ruiz" not in str(row.model_dump()).casefold()
        assert "nadie" not in str(row.model_dump()).casefold()
    listed = invoke(["audit", "access", "--json"], home)
    assert listed.exit_code == 0 and "person_search" in listed.stdout
    assert "Ruiz" not in listed.stdout


def test_a_case_opened_with_its_people_is_recorded_and_the_record_listed(home: Path) -> None:
    shown = json_lines(["case", "MPDDHP-2026-0412", "--personal"], home)
    assert any(ANA in row["personal"] for row in shown)
    [access] = _accesses(home)
    assert (access.action, access.case_refs, access.matches) == (
        "case_personal",
        "MPDDHP-2026-0412",
        1,
    )
    json_lines(["case", "MPDDHP-2026-0412"], home)  # without people: nothing to record
    assert len(_accesses(home)) == 1
    later = invoke(["audit", "access", "--since", "2999-01-01"], home)
    assert later.exit_code == 0 and "Nadie ha buscado" in later.stdout
    wrong = invoke(["audit", "access", "--since", "ayer"], home)
    assert wrong.exit_code == 2 and "2026-11-01" in wrong.stdout


def test_the_ledger_holds_no_name_in_clear(home: Path) -> None:
    ledger = home_ledger(load_settings(home=home))
    try:
        with ledger.session() as session:
            entries = session.exec(select(PersonIndexRow)).all()
    finally:
        ledger.close()
    assert {e.kind for e in entries} == {"name", "word"}
    assert all(len(e.token) == 64 and int(e.token, 16) >= 0 for e in entries)
    stored = b"".join(path.read_bytes() for path in home.glob("ledger.db*"))
    surnames = ("Pérez", "López", "Ruiz", "Ortega", "Martínez", "Núñez", "Gómez")
    for clear in (*NAMES, *surnames):
        for form in (clear, clear.casefold(), fold(clear)):
            assert form.encode() not in stored, form
            assert form.encode("unicode_escape") not in stored, form


def test_reindex_finds_the_people_and_words_of_messages_recorded_before(home: Path) -> None:
    ledger = home_ledger(load_settings(home=home))
    try:  # as a ledger recorded before the index existed
        with ledger.session() as session:
            for row in session.exec(select(PersonIndexRow)).all():
                session.delete(row)
            for row in session.exec(select(RequestTextRow)).all():
                session.delete(row)
            session.commit()
    finally:
        ledger.close()
    assert json_lines(["search", "--person", "Gómez"], home) == []
    assert json_lines(["search", "rondines"], home) == []
    done = invoke(["db", "reindex-people"], home)
    assert done.exit_code == 0, done.stdout
    assert "3 mensajes indexados: 4 personas nombradas" in done.stdout
    luis = json_lines(["search", "--person", "Gómez"], home)
    assert {row["person"] for row in luis} == {LUIS} and len(luis) == 2  # two shelters
    assert _cases(json_lines(["search", "rondines"], home)) == {"MPDDHP-2026-0412"}
    again = invoke(["db", "reindex-people"], home)  # as often as wanted: the same index
    assert again.exit_code == 0
    assert len(json_lines(["search", "--person", "Gómez"], home)) == 2


# --- the hub -----------------------------------------------------------------------------------


@pytest.mark.integration
async def test_the_hub_indexes_the_people_of_what_it_records(
    nats_server: EmbeddedNatsServer, hub: Hub, ledger: SqlLedger
) -> None:
    patrol, threats, _ = _messages()
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        for message in (patrol, threats):
            await js.publish(subjects.routes(message, b.REGISTRY)[0][0], message.to_json())
    finally:
        await nc.close()

    def recorded() -> bool:
        with ledger.session() as session:
            return len(session.exec(select(PersonIndexRow.message_id).distinct()).all()) == 2

    await hub.wait_until(recorded)
    whole, words = tokens_for(ledger.sealer, "PÉREZ LÓPEZ ANA")
    with ledger.session() as session:
        found = person_lines(session, person_hits(session, whole, words))
        texts = session.exec(select(RequestTextRow.text)).all()
    assert [(line.case_ref, hit.message_id) for line, hit in found] == [
        ("MPDDHP-2026-0412", patrol.id)
    ]
    assert any("rondines perimetrales" in text for text in texts)
    assert not any("perez" in text or "ana " in text for text in texts)


def test_the_same_searches_on_either_database(ledger: SqlLedger) -> None:
    """SQLite's LIKE ignores case by itself; PostgreSQL is asked with ILIKE."""
    from adapters.readmodel.search import search

    _record(ledger, _messages())
    with ledger.session() as session:
        assert {line.case_ref for line in search(session, "mpddhp-2026-04")} == {"MPDDHP-2026-0412"}
        [line] = search(session, "Fiscalía GUERRERO")
        assert (line.agency, line.found_by) == ("gro.prosecutor", "institution")
        assert {line.case_ref for line in search(session, "psicologica")} == {"MPDDHP-2025-0077"}
        assert search(session, "100%_") == []  # wildcards are searched for, not obeyed
        assert [line.found_by for line in search(session, "mpddhp", limit=1, offset=1)] == ["case"]


def test_reindex_waits_for_no_hub(home: Path) -> None:
    ledger = home_ledger(load_settings(home=home))
    try:
        with ledger.hub_lease():  # as `mechbus up` holds it
            refused = invoke(["db", "reindex-people"], home)
    finally:
        ledger.close()
    assert refused.exit_code == 1 and "mechbus up" in refused.stdout
