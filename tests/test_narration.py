"""The case timeline in words: every kind of message has its phrase, and what it says is a
sentence naming the institutions, in Spanish and in English, never telling personal data."""

from __future__ import annotations

import pytest

from adapters import i18n
from adapters.readmodel.narration import KINDS, detail, kind_phrase
from schemas.messages import MESSAGE_TYPES

GUERRERO = "Fiscalía General del Estado de Guerrero"
GOVERNMENT = "Secretaría General de Gobierno del Estado de Guerrero"


def rung(level: str, **more: object) -> dict[str, object]:
    return {
        "agency": "gro.prosecutor",
        "clock": "acknowledgement",
        "level": level,
        "to_agency": "gro.prosecutor",
        **more,
    }


def test_every_message_type_has_a_phrase_in_the_catalogue() -> None:
    kinds = {t.removeprefix("mech.").removesuffix(".v1") for t in MESSAGE_TYPES}
    assert kinds == set(KINDS)
    with i18n.speaking("es"):
        for kind, phrase in KINDS.items():
            assert i18n.gettext(phrase) != phrase, kind
        assert kind_phrase("tracking.escalated") == "escalamiento"


@pytest.mark.parametrize(
    ("lang", "data", "said"),
    [
        ("es", rung("reminder"), f"Recordatorio enviado a la {GUERRERO}: acuse vencido"),
        ("en", rung("reminder"), f"Reminder sent to {GUERRERO}: acknowledgement overdue"),
        (
            "es",
            rung("authority_notice", to_agency="gro.government", clock="answer"),
            f"Aviso enviado a la {GOVERNMENT}: respuesta vencida de la {GUERRERO}",
        ),
        (
            "es",
            rung("board_agenda", to_agency="fed.board", board_session_id="JG-2026-04"),
            "Inscrito en el orden del día de la sesión JG-2026-04 de la Junta: acuse vencido "
            f"de la {GUERRERO}",
        ),
        (
            "es",
            rung("monthly_report", to_agency="fed.mechanism", agency="shelter.albergue-oaxaca"),
            "Incluido en el informe mensual: acuse vencido del Albergue para personas "
            "defensoras (ejemplo), Oaxaca",
        ),
    ],
)
def test_an_escalation_is_a_sentence_naming_the_institutions(
    lang: str, data: dict[str, object], said: str
) -> None:
    with i18n.speaking(lang):
        assert detail("tracking.escalated", data) == said


def test_answers_read_as_sentences() -> None:
    with i18n.speaking("es"):
        declined = detail("response.declined", {"reason_code": "not_competent"})
        assert declined == "Rechazada: no es de su competencia"
        measures = detail("request.protection_measure", {"measures": ["panic_button", "escort"]})
        assert measures == "Medidas: botón de asistencia, acompañamiento"
        attended = detail(
            "tracking.board_attendance",
            {"agency": "gro.prosecutor", "attended": True, "session_id": "JG-2026-04"},
        )
        assert attended == f"La {GUERRERO} asistió a la sesión JG-2026-04"
    with i18n.speaking("en"):
        assert detail("response.acknowledgement", {"official_role": "Fiscal"}) == (
            "Acknowledged by: Fiscal"
        )
        assert detail("response.delivery_receipt", {}) == ""  # its kind says it all


def test_a_detail_tells_only_the_fields_it_names() -> None:
    """Free-text notes and the people's details may name a person: never told."""
    data = {"official_role": "Fiscal", "note": "Nombre Apellido", "personal": {"full_name": "X"}}
    with i18n.speaking("es"):
        assert detail("response.acknowledgement", data) == "Acuse firmado por: Fiscal"
        assert detail("request.relocation", {"personal": {"full_name": "Nombre Apellido"}}) == ""
