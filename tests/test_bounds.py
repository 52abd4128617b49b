"""The bounds a body is read within: what they refuse, and the valid input they must let through."""

from __future__ import annotations

import json
import re

import pytest

from bus.domain import bounds, intake
from schemas.registry import AgencyRegistry
from schemas.tracking import RejectionReason
from tests import builders as b
from tests.bad_inputs import OUTBOX, catalogue


@pytest.mark.parametrize(
    "body",
    [
        '{"text": "Señora Martínez ¿dónde? 😀 \\ud83d\\ude00"}',  # a surrogate pair is one char
        '{"text": "a literal \\\\u0000 is a backslash and five characters"}',
        '{"text": "line one\\nline two\\ttabbed\\r"}',
        '{"text": "quotes \\" and brackets [[[{{{ in text do not nest"}',
        '{"n": -0, "m": -0.0, "big": 9007199254740991, "small": -9007199254740991}',
        '{"x": 1.5e308, "y": 1e-400}',
        "[" * bounds.MAX_DEPTH + "]" * bounds.MAX_DEPTH,
    ],
)
def test_valid_json_is_read(body: str) -> None:
    assert bounds.load(body.encode()) == json.loads(body)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[" * (bounds.MAX_DEPTH + 1) + "]" * (bounds.MAX_DEPTH + 1), "nest deeper than 32"),
        ('{"n": 9007199254740992}', "beyond"),
        ('{"n": -' + "9" * 5000 + "}", "5000 digits"),
        ('{"x": 1e400}', "too large"),
        ('{"x": NaN}', "NaN is not a JSON number"),
        ('{"a": 1, "a": 2}', "same field twice"),
        ('{"t": "bell \\u0007"}', "U+0007"),
        ('{"t": "C1 \u0085"}', "U+0085"),
        ('{"t": "del \u007f"}', "U+007F"),
        ('{"t": "\\udc00 lone"}', "U+DC00"),
        ('{"k\\u0000": 1}', "U+0000"),
    ],
)
def test_out_of_bounds_json_is_refused_saying_why(body: str, problem: str) -> None:
    with pytest.raises(bounds.OutOfBounds, match=re.escape(problem)):
        bounds.load(body.encode())


def test_the_place_of_a_bad_character_is_named_but_not_the_text() -> None:
    with pytest.raises(bounds.OutOfBounds) as refused:
        bounds.load(b'{"data": {"names": ["Ana", "Luc\\u0000a"]}}')
    assert refused.value.location == "data.names.1"
    assert "Luc" not in str(refused.value)


def test_every_catalogued_input_is_refused_as_catalogued_without_raising() -> None:
    request = b.patrol_request()
    for bad in catalogue(request.id):
        refusal = intake.decode(bad.subject, bad.body, b.REGISTRY)
        assert isinstance(refusal, intake.Refusal), bad.kind
        assert (refusal.reason, refusal.sender) == (bad.reason, bad.told), bad.kind


def test_a_failure_while_reading_is_a_refusal_not_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(data: bytes) -> object:
        raise RuntimeError("a bug in reading")

    monkeypatch.setattr(bounds, "load", broken)
    refusal = intake.decode(OUTBOX, b"{}", b.REGISTRY)
    assert isinstance(refusal, intake.Refusal)
    assert refusal.reason is RejectionReason.MALFORMED and refusal.sender == "gro.government"
    assert "RuntimeError" in refusal.detail and "a bug" not in refusal.detail


@pytest.mark.parametrize(
    ("registry", "sender"),
    [
        (b.REGISTRY, "gro.government"),
        (AgencyRegistry([a for a in b.REGISTRY if a.id != "gro.government"]), None),
    ],
    ids=["registered", "not-in-the-registry-passed-in"],
)
def test_the_sender_is_known_to_the_registry_passed_in(
    registry: AgencyRegistry, sender: str | None
) -> None:
    assert intake.sender_of("mech.v1.from.gro.government.acknowledgement", registry) == sender
    refusal = intake.decode("mech.v1.from.gro.government.acknowledgement", b"{}", registry)
    assert isinstance(refusal, intake.Refusal) and refusal.sender == sender
