"""`mechbus send` checks where a request goes before anything is sent: the kind and state of
each recipient, and the date it asks the measures to be implemented by. A mismatch exits 2
naming the institution, its state and what would be valid; `--force --reason` sends it anyway
and the reason travels with the request into the case's timeline. No NATS server runs: a
request that passes is kept in the outbox, as `mechbus send` does while NATS is away."""

from __future__ import annotations

import shlex
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.i18n import ZONE
from tests.cli_processes import (
    SEND_PATROL,
    invoke,
    json_lines,
    run,
    running_up,
    said,
    upgraded_home,
)
from tests.ledgers import outbox_messages, record_outbox

CASE = "MPDDHP-2026-0412"
INSTRUCTIONS = ["--instructions", "Rondines perimetrales cada 4 horas durante 30 días."]
PATROL = [*SEND_PATROL, *INSTRUCTIONS]
INVESTIGATE = [
    "send",
    "investigation",
    "--case",
    CASE,
    "--aggression",
    "amenazas de muerte",
    "--facts",
    "Llamadas telefónicas con amenazas tras publicar un reportaje.",
]
REASON = "La persona beneficiaria fue reubicada temporalmente en Xalapa, Veracruz."


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return upgraded_home(tmp_path)


def patrol_to(agency: str, *more: str) -> list[str]:
    """The Guerrero patrol, addressed to ``agency`` instead of gro.government."""
    args = list(PATROL)
    args[args.index("gro.government")] = agency
    return [*args, *more]


def test_a_measure_for_guerrero_to_veracruz_is_refused_naming_both(home: Path) -> None:
    refused = invoke(patrol_to("ver.government"), home)
    assert refused.exit_code == 2, refused.output
    text = said(refused)
    assert "ver.government (Secretaría de Gobierno del Estado de Veracruz)" in text
    assert "pertenece a Veracruz de Ignacio de la Llave" in text
    assert "esta solicitud es para Guerrero" in text
    assert "gro.government (Secretaría General de Gobierno del Estado de Guerrero)" in text
    assert '--force --reason "MOTIVO"' in text
    assert outbox_messages(home) == []  # nothing was sent


def test_in_english_with_lang(home: Path) -> None:
    refused = invoke(["--lang", "en", *patrol_to("ver.government")], home)
    assert refused.exit_code == 2
    assert "belongs to Veracruz de Ignacio de la Llave" in said(refused)
    assert "this request is for Guerrero" in said(refused)


def test_an_investigation_to_a_government_is_refused_naming_the_prosecutor(home: Path) -> None:
    assert invoke(PATROL, home).exit_code == 0  # the case is in Guerrero
    record_outbox(home)
    refused = invoke([*INVESTIGATE, "--to", "gro.government"], home)
    assert refused.exit_code == 2, refused.output
    assert (
        "Una investigación se dirige a una fiscalía: gro.prosecutor (Fiscalía General del "
        "Estado de Guerrero). Destinatario indicado: gro.government (Secretaría General de "
        "Gobierno del Estado de Guerrero, Guerrero), un gobierno estatal."
    ) in said(refused)
    elsewhere = invoke([*INVESTIGATE, "--to", "oax.prosecutor"], home)
    assert elsewhere.exit_code == 2, elsewhere.output
    assert (
        f"oax.prosecutor (Fiscalía General del Estado de Oaxaca) pertenece a Oaxaca, pero el "
        f"caso {CASE} está registrado en Guerrero"
    ) in said(elsewhere)
    assert invoke([*INVESTIGATE, "--to", "gro.prosecutor"], home).exit_code == 0
    assert [m.recipients for m in outbox_messages(home)] == [("gro.prosecutor",)]


def test_information_to_another_state_and_a_shelter(home: Path) -> None:
    assert invoke(PATROL, home).exit_code == 0
    record_outbox(home)
    ask = ["send", "information", "--case", CASE, "--question", "¿Qué avances hay?"]
    refused = invoke([*ask, "--to", "ver.commission"], home)
    assert refused.exit_code == 2 and "gro.commission" in said(refused)
    assert invoke([*ask, "--to", "shelter.casa-norte"], home).exit_code == 0  # exempt


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--force"], '--force necesita --reason "MOTIVO"'),
        (["--force", "--reason", "   "], '--force necesita --reason "MOTIVO"'),
        (["--reason", REASON], "--reason acompaña a --force"),
    ],
)
def test_force_and_reason_come_together(home: Path, args: list[str], words: str) -> None:
    refused = invoke(patrol_to("ver.government", *args), home)
    assert refused.exit_code == 2, refused.output
    assert words in said(refused)
    assert outbox_messages(home) == []


def test_force_with_a_reason_sends_and_the_timeline_shows_it(home: Path) -> None:
    sent = invoke(patrol_to("ver.government", "--force", "--reason", REASON), home)
    assert sent.exit_code == 0, sent.output
    [message] = outbox_messages(home)
    assert message.recipients == ("ver.government",)
    assert message.data.override_reason == REASON
    record_outbox(home)
    [event] = json_lines(["case", CASE], home)
    assert REASON in event["detail"]
    # the measure said Guerrero: the case is now recorded in Guerrero, for what follows
    assert invoke([*INVESTIGATE, "--to", "ver.prosecutor"], home).exit_code == 2


def test_municipality_and_implement_by_are_recorded(home: Path) -> None:
    by = (datetime.now(ZONE) + timedelta(hours=6)).replace(microsecond=0)
    sent = invoke(
        [
            *PATROL,
            "--urgent",
            "--municipality",
            "  Chilpancingo de los Bravo ",
            "--implement-by",
            by.isoformat(),
        ],
        home,
    )
    assert sent.exit_code == 0, sent.output
    day = (datetime.now(ZONE) + timedelta(days=20)).date()
    ordinary = invoke([*PATROL, "--implement-by", day.isoformat()], home)
    assert ordinary.exit_code == 0, ordinary.output
    urgent, later = outbox_messages(home)
    assert urgent.data.municipality == "Chilpancingo de los Bravo"
    assert urgent.data.implement_by == by.astimezone(UTC)
    end_of_day = datetime(day.year, day.month, day.day, 23, 59, tzinfo=ZONE)
    assert later.data.implement_by == end_of_day.astimezone(UTC)
    investigation = invoke(
        [*INVESTIGATE, "--to", "gro.prosecutor", "--municipality", "Iguala de la Independencia"],
        home,
    )
    assert investigation.exit_code == 0, investigation.output
    assert outbox_messages(home)[-1].data.municipality == "Iguala de la Independencia"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "--municipality: indique el nombre del municipio"),
        ("   ", "--municipality: indique el nombre del municipio"),
    ],
)
def test_a_blank_municipality_is_refused(home: Path, value: str, words: str) -> None:
    refused = invoke([*PATROL, "--municipality", value], home)
    assert refused.exit_code == 2 and words in said(refused)


def test_implement_by_beyond_the_legal_limit_or_past_is_refused(home: Path) -> None:
    beyond = (datetime.now(ZONE) + timedelta(hours=12)).isoformat(timespec="minutes")
    refused = invoke([*PATROL, "--urgent", "--implement-by", beyond], home)
    assert refused.exit_code == 2, refused.output
    assert "es posterior al plazo legal" in said(refused)
    assert "LPPDDHP art. 26 fr. II" in said(refused) and "--force" in said(refused)
    past = (datetime.now(ZONE) - timedelta(days=1)).date().isoformat()
    gone = invoke([*PATROL, "--implement-by", past, "--force", "--reason", REASON], home)
    assert gone.exit_code == 2 and "ya pasó" in said(gone)  # --force cannot bring it back
    assert "--force --reason" not in said(gone)
    for bad in ("mañana", "2026-12-15T18:00"):
        unreadable = invoke([*PATROL, "--implement-by", bad], home)
        assert unreadable.exit_code == 2, unreadable.output
    assert outbox_messages(home) == []
    forced = invoke(
        [*PATROL, "--urgent", "--implement-by", beyond, "--force", "--reason", REASON], home
    )
    assert forced.exit_code == 0, forced.output
    [message] = outbox_messages(home)
    assert message.data.override_reason == REASON


README = Path(__file__).parents[1] / "README.md"


def readme_examples() -> list[tuple[list[str], int]]:
    """The commands of the README's "Sending a request" block, each with the exit its comment
    promises (2 when it says so, else 0)."""
    text = README.read_text(encoding="utf-8")
    block = text.split("### Sending a request", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = block.replace("\\\n", " ").splitlines()
    examples = []
    for line in commands:
        args = shlex.split(line, comments=True)
        assert args[0] == "mechbus", line
        examples.append((args[1:], 2 if "# exit 2" in line else 0))
    return examples


def test_the_readme_examples_do_what_they_say(home: Path) -> None:
    examples = readme_examples()
    assert len(examples) == 5 and [code for _, code in examples].count(2) == 1
    for args, code in examples:
        if "--implement-by" in args:  # the README's day, moved to within the 30 days from now
            at = args.index("--implement-by") + 1
            args[at] = (datetime.now(ZONE) + timedelta(days=14)).date().isoformat()
        if "--force" in args:  # the record holds the case in Guerrero by now: it needs forcing
            unforced = args[: args.index("--force")]
            refused = invoke(unforced, home)
            assert refused.exit_code == 2 and "está registrado en Guerrero" in said(refused)
        done = invoke(args, home)
        assert done.exit_code == code, (args, done.output)
        record_outbox(home)
    details = [event["detail"] for event in json_lines(["case", CASE], home)]
    assert len(details) == 4
    assert "es competente la Fiscalía de Veracruz" in details[-1]


def test_an_update_moves_the_date_only_within_the_request_s_legal_limit(home: Path) -> None:
    from bus.domain.policy import Policy
    from bus.domain.rules import Rules
    from tests import builders as b

    assert invoke(PATROL, home).exit_code == 0  # ordinary: 30 days from now
    [request] = outbox_messages(home)
    record_outbox(home, Rules(b.REGISTRY, Policy.load()))
    update = ["send", "update", request.id, "--changes", "Se amplía el plazo de implementación."]
    in_40_days = (datetime.now(ZONE) + timedelta(days=40)).date().isoformat()
    beyond = invoke([*update, "--implement-by", in_40_days], home)
    assert beyond.exit_code == 2, beyond.output
    assert "es posterior al plazo legal" in said(beyond) and "--force" in said(beyond)
    yesterday = (datetime.now(ZONE) - timedelta(days=1)).date().isoformat()
    past = invoke([*update, "--implement-by", yesterday], home)
    assert past.exit_code == 2 and "ya pasó" in said(past)
    assert outbox_messages(home) == []
    in_10_days = (datetime.now(ZONE) + timedelta(days=10)).date().isoformat()
    assert invoke([*update, "--implement-by", in_10_days], home).exit_code == 0
    forced = invoke([*update, "--implement-by", in_40_days, "--force", "--reason", REASON], home)
    assert forced.exit_code == 0, forced.output
    within, anyway = outbox_messages(home)
    assert within.data.implement_by.astimezone(ZONE).date().isoformat() == in_10_days
    assert within.data.override_reason is None and anyway.data.override_reason == REASON


@pytest.mark.e2e
def test_on_a_running_bus_the_forced_request_is_recorded_with_its_reason(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_up(home):
        first = run([*PATROL, "--urgent"], home)
        assert first.returncode == 0 and "se publicó" in first.stdout, first.stdout + first.stderr
        deadline = time.monotonic() + 30
        while len(json_lines(["case", CASE], home)) < 1:
            assert time.monotonic() < deadline, "the measure was not recorded"
        ask = [*INVESTIGATE, "--to", "ver.prosecutor"]
        refused = run(ask, home)  # the hub recorded the case in Guerrero
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "está registrado en Guerrero" in " ".join(refused.stdout.split())
        forced = run([*ask, "--force", "--reason", REASON], home)
        assert forced.returncode == 0 and "se publicó" in forced.stdout, forced.stdout
        while len(events := json_lines(["case", CASE], home)) < 2:
            assert time.monotonic() < deadline, "the forced request was not recorded"
    assert events[1]["to"] == "ver.prosecutor"
    assert REASON in events[1]["detail"]


def test_a_relocation_goes_to_shelters_only(home: Path) -> None:
    relocate = [
        "relocate",
        "--case",
        CASE,
        "--people",
        "2",
        "--origin-state",
        "GRO",
        "--earliest",
        (datetime.now(ZONE) + timedelta(days=3)).date().isoformat(),
        "--days",
        "90",
    ]
    refused = invoke([*relocate, "--shelter", "gro.government"], home)
    assert refused.exit_code == 2, refused.output
    assert "Una solicitud de reubicación se dirige a una casa refugio" in said(refused)
    assert "--force" not in said(refused)  # relocate has no --force: nothing to suggest
    assert outbox_messages(home) == []
    sent = invoke([*relocate, "--shelter", "shelter.casa-norte"], home)  # Nuevo León: exempt
    assert sent.exit_code == 0, sent.output


def test_the_state_of_a_measure_is_a_state_code(home: Path) -> None:
    at = PATROL.index("GRO")
    refused = invoke([*PATROL[:at], "XXX", *PATROL[at + 1 :]], home)
    assert refused.exit_code == 2
    assert "'XXX' no es una entidad federativa de México" in said(refused)
    assert invoke([*PATROL[:at], "gro", *PATROL[at + 1 :]], home).exit_code == 0
    [sent] = outbox_messages(home)
    assert sent.data.state == "GRO"
