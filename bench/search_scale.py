"""How the search scales: ``mechbus search`` and ``--person`` on a synthetic SQLite ledger of N
requests (default 50,000), each with its searchable text and, one in ten, two people in the
blind index. Medians of repeated runs, through the read model as the command line calls it.

    python -m bench.search_scale [N]
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from adapters.ledger.people import Indexed, person_entries, tokens_for
from adapters.ledger.sealing import Sealer
from adapters.ledger.store import SqlLedger, sqlite_url
from adapters.ledger.tables import PersonIndexRow, RequestTextRow
from adapters.readmodel.search import person_hits, person_lines, search
from bench.ledger_scale import _median_ms, populate
from bus.domain.personal import fold

WORDS = (
    "rondines perimetrales cada cuatro horas durante treinta días en el domicilio",
    "amenazas de muerte recibidas por mensajería tras una publicación periodística",
    "iniciar carpeta de investigación y solicitar registros telefónicos",
    "instalación de cámaras y cerraduras en la oficina de la organización",
    "botón de pánico y línea de emergencia para la persona beneficiaria",
)
NAMES = ("María", "José", "Guadalupe", "Juan", "Rosa", "Luis", "Ana", "Pedro", "Lucía", "Jorge")
SURNAMES = ("Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez", "Sánchez")


def add_search_rows(ledger: SqlLedger, size: int, rng: random.Random) -> None:
    texts: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = []
    for i in range(size):
        rid = f"BENCH{i:020d}"
        texts.append(
            {
                "request_id": rid,
                "source": "fed.mechanism",
                "message_id": rid,
                "text": fold(f"{rng.choice(WORDS)} {rng.choice(WORDS)} folio {i}"),
            }
        )
        if i % 10 == 0:
            names = [
                {"full_name": f"{rng.choice(NAMES)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"}
                for _ in range(2)
            ]
            message = Indexed("fed.mechanism", rid, rid, f"MPDDHP-{i % 50_000:06d}", "request")
            people += person_entries(ledger.sealer, message, str(names).replace("'", '"').encode())
    with ledger.engine.begin() as conn:
        conn.execute(insert(RequestTextRow), texts)
        conn.execute(insert(PersonIndexRow), people)


def main(size: int = 50_000, runs: int = 7) -> dict[str, float]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "search.db"
        ledger = SqlLedger(sqlite_url(db), sealer=Sealer(b"k" * 32), migrate=True)
        try:
            populate(ledger, 0, size, rng)
            add_search_rows(ledger, size, rng)
            whole, words = tokens_for(ledger.sealer, "Martínez")
            timings: dict[str, float] = {}
            with ledger.session() as session:
                for label, query in (
                    ("case 0412", "0412"),
                    ("institution", "fiscalia guerrero"),
                    ("words", "camaras cerraduras"),
                    ("nothing found", "helicoptero"),
                ):
                    timings[label] = _median_ms(lambda q=query: search(session, q, 201), runs)
                timings["person (surname)"] = _median_ms(
                    lambda: person_lines(session, person_hits(session, whole, words)), runs
                )
        finally:
            ledger.close()
    for label, ms in timings.items():
        print(f"{size} requests, {label}: {ms:.1f} ms (median of {runs})")
    return timings


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
