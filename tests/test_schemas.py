"""The v1 contract: round trips, refusals, the agency registry and JSON Schema export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.messages import MESSAGE_TYPES, export_json_schemas, parse_message
from schemas.registry import AgencyKind, AgencyRegistry, RegistryError, state_codes
from tests import builders as b


def _json(message: object) -> dict[str, object]:
    return json.loads(message.to_json())  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize(
    "message",
    [
        b.patrol_request(),
        b.investigation_request(),
        b.receipt("01M8KHEY07QWTZKE0VW6WNXK55"),
        b.acknowledgement("01M8KHEY07QWTZKE0VW6WNXK55"),
        b.decline("01M8KHEY07QWTZKE0VW6WNXK55"),
        b.commitment("01M8KHEY07QWTZKE0VW6WNXK55"),
        b.fulfilled("01M8KHEY07QWTZKE0VW6WNXK55"),
        b.recall("01M8KHEY07QWTZKE0VW6WNXK55"),
    ],
    ids=lambda m: m.type,
)
def test_round_trip(message: object) -> None:
    assert parse_message(message.to_json()) == message  # type: ignore[attr-defined]


def test_cloudevents_attribute_names() -> None:
    doc = _json(b.acknowledgement("01M8KHEY07QWTZKE0VW6WNXK55"))
    assert doc["specversion"] == "1.0"
    assert doc["correlationid"] == "01M8KHEY07QWTZKE0VW6WNXK55"
    assert all(name.isalnum() and name.islower() for name in doc)  # CloudEvents naming rule


def test_frozen() -> None:
    message = b.patrol_request()
    with pytest.raises(ValidationError):
        message.source = "ver.government"  # type: ignore[misc]


def _refusal(doc: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as info:
        parse_message(json.dumps(doc, default=str))
    return str(info.value)


def test_extra_field_refused() -> None:
    doc = _json(b.patrol_request())
    doc["colour"] = "red"
    assert "Extra inputs are not permitted" in _refusal(doc)
    doc = _json(b.patrol_request())
    doc["data"]["weapons"] = True  # type: ignore[index]
    assert "Extra inputs are not permitted" in _refusal(doc)


def test_naive_timestamp_refused() -> None:
    doc = _json(b.patrol_request())
    doc["time"] = "2026-03-02T15:00:00"
    assert "timezone" in _refusal(doc)


def test_times_normalised_to_utc() -> None:
    doc = _json(b.patrol_request())
    doc["time"] = "2026-03-02T09:00:00-06:00"
    assert parse_message(json.dumps(doc)).time.isoformat() == "2026-03-02T15:00:00+00:00"


def test_unknown_agency_and_type_refused() -> None:
    doc = _json(b.patrol_request())
    doc["recipients"] = ["gro.police-chief"]
    assert "unknown agency 'gro.police-chief'" in _refusal(doc)
    doc = _json(b.patrol_request())
    doc["type"] = "mech.request.airstrike.v1"
    assert "does not match any of the expected tags" in _refusal(doc)


def test_sender_kind_enforced() -> None:
    doc = _json(b.patrol_request())
    doc["source"] = "gro.government"
    assert "may be sent only by" in _refusal(doc)
    doc = _json(b.acknowledgement("01M8KHEY07QWTZKE0VW6WNXK55"))
    del doc["correlationid"]
    assert "needs correlationid" in _refusal(doc)


def test_missing_field_refused() -> None:
    doc = _json(b.patrol_request())
    del doc["data"]["instructions"]  # type: ignore[attr-defined]
    assert "instructions" in _refusal(doc) and "Field required" in _refusal(doc)


def test_registry_has_every_state_from_pycountry() -> None:
    registry = AgencyRegistry.load()
    assert len(state_codes()) == 32 and "CMX" in state_codes()
    for code in state_codes():
        kinds = {a.kind for a in registry.of_state(code)}
        assert {AgencyKind.GOVERNMENT, AgencyKind.COMMISSION, AgencyKind.PROSECUTOR} <= kinds
    assert registry.highest_authority("GRO").id == "gro.government"  # type: ignore[union-attr]
    assert any(a.kind is AgencyKind.SHELTER for a in registry)


def test_every_institution_has_its_official_name_and_its_head() -> None:
    """Staff read names, never ids; the Board invites an institution's head by its title."""
    registry = AgencyRegistry.load()
    for agency in registry:
        assert agency.name and agency.name != agency.id and "." not in agency.name.split()[0]
        if agency.kind is not AgencyKind.SYSTEM:
            assert agency.head and agency.head.startswith("Titular de la "), agency.id
            assert agency.addressee == agency.head
    guerrero = registry["gro.prosecutor"]
    assert guerrero.addressee == "Titular de la Fiscalía General del Estado de Guerrero"
    assert registry["pue.government"].name == "Secretaría de Gobernación del Estado de Puebla"


def test_a_deployments_registry_may_leave_out_the_head(tmp_path: Path) -> None:
    own = tmp_path / "agencies.toml"
    own.write_text(
        '[[agency]]\nid = "gro.government"\nkind = "government"\n'
        'name = "Secretaría General de Gobierno del Estado de Guerrero"\nstate = "GRO"\n',
        encoding="utf-8",
    )
    [agency] = AgencyRegistry.load(own)
    assert agency.head is None and agency.addressee == agency.name


def test_registry_file_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "agencies.toml"
    bad.write_text(
        '[[agency]]\nid = "xx.government"\nkind = "government"\nname = "X"\nstate = "XXX"\n'
    )
    with pytest.raises(RegistryError, match="not an ISO 3166-2:MX state code"):
        AgencyRegistry.load(bad)
    bad.write_text("agency = 3")
    with pytest.raises(RegistryError, match=r"\[\[agency\]\]"):
        AgencyRegistry.load(bad)


def test_json_schema_export(tmp_path: Path) -> None:
    files = export_json_schemas(tmp_path)
    assert len(files) == len(MESSAGE_TYPES) + 1
    schema = json.loads((tmp_path / "mech.response.acknowledgement.v1.schema.json").read_text())
    assert "correlationid" in schema["properties"]
    assert schema["additionalProperties"] is False
