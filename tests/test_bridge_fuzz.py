"""Schemathesis against the bridge's ASGI app: whatever it is sent, no 5xx, and every answer
matches the OpenAPI document (problem+json included). Bounded so it runs in seconds."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from adapters.bridge.app import create_app
from adapters.bridge.store import BridgeStore
from adapters.ledger.store import sqlite_url
from schemas.envelope import Envelope
from tests.ledgers import upgraded_ledger

EXAMPLES_PER_OPERATION = 25
SEEN: set[int] = set()
CALLS: list[str] = []


class Recorder:
    async def publish(self, message: Envelope) -> bool:
        return False

    async def close(self) -> None:
        return None


# Schemathesis loads the schema when the module is imported (its from_fixture does not work
# with this pytest), so the app and its scratch ledger are made here, once.
_scratch = tempfile.TemporaryDirectory(prefix="mechbus-fuzz-")
_ledger = upgraded_ledger(sqlite_url(Path(_scratch.name) / "ledger.db"))
_store = BridgeStore(Path(_scratch.name) / "creds")
TOKEN = _store.issue_token("gro.government")
APP = create_app(_ledger, _store, Recorder())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_bridge_answers_within_its_contract(case: Any) -> None:
    headers = dict(case.headers or {})
    # Most cases carry a valid token, so the handlers themselves are exercised; one in four
    # keeps whatever was generated (none, or a random one: 401).
    CALLS.append(case.operation.label)
    if len(CALLS) % 4:
        headers["Authorization"] = f"Bearer {TOKEN}"
    response = case.call_and_validate(
        headers=headers, checks=[not_a_server_error, response_schema_conformance]
    )
    SEEN.add(response.status_code)


def test_the_fuzzing_reached_the_handlers() -> None:
    """Runs after the fuzz test (file order): the token let cases past authentication."""
    assert {200, 401, 404, 422} <= SEEN, SEEN
