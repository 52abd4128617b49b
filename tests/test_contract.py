"""The published contract (docs/contract/): FastStream's AsyncAPI 3.0 document and the JSON
Schemas, committed, and never allowed to drift from the code."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from adapters.cli import app
from adapters.contract import ASYNCAPI_FILE, asyncapi_document, export, generated_files
from bus.domain.streams import agency_consumer
from schemas.messages import MESSAGE_TYPES

COMMITTED = Path(__file__).parents[1] / "docs" / "contract"


def test_committed_contract_matches_the_code(tmp_path: Path) -> None:
    export(tmp_path)
    fresh, committed = generated_files(tmp_path), generated_files(COMMITTED)
    stale = sorted(
        name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name)
    )
    assert not stale, (
        f"docs/contract/ is out of date with the code ({len(stale)} files differ: "
        f"{', '.join(stale[:5])}...): run `mechbus contract export` and commit docs/contract/"
    )


def test_export_is_stable_and_leaves_the_readme(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("hand-written\n", encoding="utf-8")
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "mech.gone.v1.schema.json").write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(app, ["contract", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    first = generated_files(tmp_path)
    assert "schemas/mech.gone.v1.schema.json" not in first  # a removed type leaves no file
    export(tmp_path)
    assert generated_files(tmp_path) == first
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "hand-written\n"
    assert len([n for n in first if n.startswith("schemas/")]) == len(MESSAGE_TYPES) + 1


def test_asyncapi_describes_every_message_on_its_subject(tmp_path: Path) -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    channels = document["channels"]
    addresses = {c["address"] for c in channels.values()}
    for cls in MESSAGE_TYPES.values():
        kind = cls.kind()
        assert (
            f"mech.v1.to.{{agency}}.{kind}" in addresses
            or f"mech.v1.from.{{agency}}.{kind}" in addresses
        ), kind
    assert "mech.v1.to.{agency}.protection_measure" in addresses
    assert "mech.v1.from.{agency}.acknowledgement" in addresses
    assert "mech.v1.from.{agency}.delivery_receipt" in addresses
    assert "mech.v1.to.{agency}.rejected" in addresses
    actions = {
        op["channel"]["$ref"].split("/")[-1]: op["action"] for op in document["operations"].values()
    }
    assert actions["to.protection_measure"] == "receive"
    assert actions["from.acknowledgement"] == "send"
    # payloads are the message models, with the CloudEvents names on the wire
    receipt = document["components"]["schemas"]["DeliveryReceipt"]
    assert {"correlationid", "causationid", "data"} <= set(receipt["properties"])
    assert agency_consumer("gro.government").durable in document["info"]["description"]
    export(tmp_path)
    assert json.loads((tmp_path / ASYNCAPI_FILE).read_text(encoding="utf-8")) == json.loads(
        json.dumps(document)
    )


def test_contract_readme_explains_the_essentials() -> None:
    text = (COMMITTED / "README.md").read_text(encoding="utf-8")
    for needle in (
        "mech.v1.to.<agency>.<kind>",
        "mech.v1.from.<agency>.<kind>",
        "Nats-Msg-Id",
        "rcpt-",
        "agency-gro-government",
        "mech.tracking.rejected.v1",
        "mechbus contract export",
        "creds issue",
    ):
        assert needle in text, needle
