"""The HTTP bridge: tokens, need-to-know, answers through the hub's path, problem+json."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from adapters.bridge.app import create_app, openapi_document
from adapters.bridge.publisher import NatsPublisher, Unavailable
from adapters.bridge.store import BridgeStore, BridgeStoreError
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import MessageRow
from adapters.natsserver.server import EmbeddedNatsServer
from bus.domain.msgids import receipt_id
from bus.domain.permissions import BRIDGE, for_agency
from bus.domain.recording import record_batch
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from schemas.envelope import Envelope
from schemas.registry import active_registry
from tests import builders as b
from tests.ledger_reads import recipient_status
from tests.test_layers import SQL, imports_of
from tests.test_recording import Stream

PERSON = {"full_name": "Periodista P. Ejemplo", "address": "Domicilio 1"}
OPENAPI = Path(__file__).parents[1] / "docs" / "contract" / "openapi.json"


@pytest.fixture
def store(tmp_path: Path) -> BridgeStore:
    return BridgeStore(tmp_path / "creds")


class Recorder:
    """A publisher that keeps what it is given (or fails, to stand for NATS being down)."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Envelope] = []
        self.fail = fail

    async def publish(self, message: Envelope) -> bool:
        if self.fail:
            raise Unavailable("no NATS in this test")
        self.sent.append(message)
        return False

    async def close(self) -> None:
        return None


def client_for(app: Any, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bridge", headers=headers
    )


def recorded(ledger: SqlLedger, message_id: str) -> bool:
    with ledger.session() as s:
        found = s.exec(select(MessageRow).where(MessageRow.message_id == message_id)).first()
        return found is not None


def test_bridge_user_may_publish_on_outboxes_only() -> None:
    rules = for_agency(active_registry()[BRIDGE])
    assert rules.publish == ("mech.v1.from.>",)
    assert rules.subscribe == ("_INBOX.fed.bridge.>",)  # its PubAcks, nothing else


def test_tokens_are_stored_hashed_and_revocable(store: BridgeStore) -> None:
    token = store.issue_token("gro.government")
    assert token not in store.path.read_text()
    assert store.path.stat().st_mode & 0o077 == 0
    assert store.agency_for(token) == "gro.government"
    assert store.agency_for(token + "x") is None
    store.revoke_token("gro.government")
    assert store.agency_for(token) is None
    with pytest.raises(BridgeStoreError):
        store.issue_token("xxx.nobody")
    with pytest.raises(BridgeStoreError):
        store.issue_token("fed.mechanism")


@pytest.mark.integration
async def test_answers_go_through_the_hub_into_the_ledger(
    nats_server: EmbeddedNatsServer, hub: Hub, ledger: SqlLedger, store: BridgeStore
) -> None:
    request = b.patrol_request(data={**b.patrol_request().data.model_dump(), "personal": PERSON})
    to_commission = b.patrol_request(
        to="gro.commission", data={**b.patrol_request().data.model_dump(), "personal": PERSON}
    )
    async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
        await mechanism.send(request)
        await mechanism.send(to_commission)
    await hub.wait_until(
        lambda: (
            recipient_status(ledger, to_commission.id, "gro.commission") == "sent"
            and recipient_status(ledger, request.id, "gro.government") == "sent"
        )
    )
    publisher = NatsPublisher(nats_server.url)
    app = create_app(ledger, store, publisher)
    government = store.issue_token("gro.government")
    commission = store.issue_token("gro.commission")
    try:
        async with client_for(app, government) as http:
            listed = (await http.get("/v1/requests")).json()
            assert [row["request_id"] for row in listed] == [request.id]
            shown = (await http.get(f"/v1/requests/{request.id}")).json()
            assert shown["request"]["data"]["personal"]["full_name"] == PERSON["full_name"]
            # another agency's request: the same 404 as one that does not exist
            other = await http.get(f"/v1/requests/{to_commission.id}")
            missing = await http.get("/v1/requests/nope")
            assert other.status_code == missing.status_code == 404
            assert other.json()["title"] == missing.json()["title"]
            assert to_commission.id not in json.dumps(other.json()).replace(
                other.json()["instance"], ""
            ).replace(other.json()["detail"], "")
            sent = await http.post(f"/v1/requests/{request.id}/receipt")
            assert sent.status_code == 202, sent.text
            assert sent.json()["message_id"] == receipt_id(request.id, "gro.government")
            assert sent.json()["nats_subject"].startswith("mech.v1.from.gro.government.")
            again = await http.post(f"/v1/requests/{request.id}/receipt")
            assert again.json()["duplicate"] is True  # the fixed id, already in the record
            ack = await http.post(
                f"/v1/requests/{request.id}/acknowledgement",
                json={"official_role": "Subsecretaría de Derechos Humanos"},
            )
            assert ack.status_code == 202, ack.text
        await hub.wait_until(
            lambda: recipient_status(ledger, request.id, "gro.government") == "acknowledged"
        )
        assert recorded(ledger, ack.json()["message_id"])
        async with client_for(app, government) as http:
            accepted = await http.post(f"/v1/requests/{request.id}/acceptance", json={})
            assert accepted.status_code == 202, accepted.text
            committed = await http.post(
                f"/v1/requests/{request.id}/commitments",
                json={
                    "commitment_id": "patrol-1",
                    "action": "Rondines cada 4 horas",
                    "due": f"{datetime.now(UTC) + timedelta(days=4 * 365):%Y-%m-%dT00:00:00Z}",
                },
            )
            assert committed.status_code == 202, committed.text
            # years for urgent measures: accepted, and told it is beyond the legal limit
            assert committed.json()["notice"].startswith("beyond the legal limit: ")
            await hub.wait_until(lambda: recorded(ledger, committed.json()["message_id"]))
            [open_commitment] = (await http.get("/v1/commitments")).json()
            assert open_commitment["commitment_id"] == "patrol-1"
            progress = await http.post(
                f"/v1/requests/{request.id}/progress",
                json={
                    "commitment_id": "patrol-1",
                    "summary": "Primera semana",
                    "percent_complete": 25,
                },
            )
            assert progress.status_code == 202, progress.text
            await hub.wait_until(lambda: recorded(ledger, progress.json()["message_id"]))
        async with client_for(app, commission) as http:
            shown = (await http.get(f"/v1/requests/{to_commission.id}")).json()
            assert (
                "personal" not in shown["request"]["data"]
                or not shown["request"]["data"]["personal"]
            )
            assert PERSON["full_name"] not in json.dumps(shown)
    finally:
        await publisher.close()


async def test_problems(ledger: SqlLedger, store: BridgeStore, tmp_path: Path) -> None:
    app = create_app(ledger, store, Recorder())
    token = store.issue_token("gro.government")
    async with client_for(app) as anonymous:
        answer = await anonymous.get("/v1/requests")
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert set(answer.json()) == {"type", "title", "status", "detail", "instance"}
    store.revoke_token("gro.government")
    async with client_for(app, token) as revoked:
        assert (await revoked.get("/v1/requests")).status_code == 401
    token = store.issue_token("gro.government")
    async with client_for(app, token) as http:
        malformed = await http.post(
            "/v1/requests/x/acknowledgement",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert malformed.status_code == 400, malformed.text
        assert malformed.json()["title"] == "Malformed JSON"
        invalid = await http.post(
            "/v1/requests/x/decline", json={"reason_code": "bored", "extra": 1}
        )
        assert invalid.status_code == 422
        fields = {e["field"] for e in invalid.json()["errors"]}
        assert {"body.reason_code", "body.explanation", "body.extra"} <= fields
        assert "body.reason_code" in invalid.json()["detail"]


@pytest.mark.integration
async def test_nats_unavailable_is_503(
    nats_server: EmbeddedNatsServer, hub: Hub, ledger: SqlLedger, store: BridgeStore
) -> None:
    request = b.patrol_request()
    async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
        await mechanism.send(request)
    await hub.wait_until(lambda: recipient_status(ledger, request.id, "gro.government") == "sent")
    app = create_app(ledger, store, NatsPublisher("nats://127.0.0.1:1", connect_timeout=1))
    async with client_for(app, store.issue_token("gro.government")) as http:
        answer = await http.post(f"/v1/requests/{request.id}/receipt")
    assert answer.status_code == 503
    assert answer.json()["title"] == "NATS unavailable"


def test_openapi_document_does_not_drift(ledger: SqlLedger, store: BridgeStore) -> None:
    document = openapi_document(create_app(ledger, store, Recorder()))
    assert OPENAPI.exists(), "run: mechbus bridge openapi"
    assert OPENAPI.read_text(encoding="utf-8") == document, "run: mechbus bridge openapi"


def test_the_bridge_runs_no_sql() -> None:
    """It reads through adapters.readmodel and writes through adapters.ledger."""
    for module, imported in imports_of("adapters/bridge").items():
        assert not imported & SQL, f"{module} imports {imported & SQL}"


async def test_webhook_registered_through_the_bridge(ledger: SqlLedger, store: BridgeStore) -> None:
    app = create_app(ledger, store, Recorder())
    async with client_for(app, store.issue_token("gro.government")) as http:
        refused = await http.put("/v1/webhook", json={"url": "http://example.mx/hook"})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "body.url"
        made = await http.put("/v1/webhook", json={"url": "https://sistema.gro.example.mx/hook"})
        assert made.status_code == 200
        hook = store.webhook("gro.government")
        assert hook is not None and hook.secret == made.json()["secret"]
        assert (await http.delete("/v1/webhook")).status_code == 204
        assert (await http.delete("/v1/webhook")).status_code == 404
    assert store.webhook("gro.government") is None


class Chunks:
    """A request body sent in 1 MiB chunks, counting how many the server pulled."""

    def __init__(self, megabytes: int) -> None:
        self.left = megabytes
        self.pulled = 0

    async def __aiter__(self) -> Any:
        while self.left:
            self.left -= 1
            self.pulled += 1
            yield b" " * (1024 * 1024)


async def test_bodies_over_the_bus_limit_are_refused_unread(
    ledger: SqlLedger, store: BridgeStore
) -> None:
    app = create_app(ledger, store, Recorder())
    path = "/v1/requests/x/acknowledgement"
    async with client_for(app, store.issue_token("gro.government")) as http:
        declared = Chunks(50)
        answer = await http.post(
            path,
            content=declared,
            headers={"content-type": "application/json", "content-length": str(50 * 1024**2)},
        )
        assert answer.status_code == 413, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "65536" in answer.json()["detail"]
        assert declared.pulled <= 1  # refused on its Content-Length
        chunked = Chunks(50)
        answer = await http.post(
            path, content=chunked, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 413, answer.text
        assert chunked.pulled <= 2  # counted while streaming, not read to the end
        small = await http.post(path, json={"official_role": "x" * 100})
        assert small.status_code == 404  # under the limit: handled as usual
    operations = json.loads(OPENAPI.read_text(encoding="utf-8"))["paths"]
    assert "413" in operations["/v1/requests/{request_id}/acknowledgement"]["post"]["responses"]


async def test_lists_come_a_page_at_a_time_and_say_when_more_follow(
    ledger: SqlLedger, store: BridgeStore
) -> None:
    """Five requests owed: pages of two, each saying where the next begins, the last
    saying nothing; together every request once. The same for open commitments."""
    stream = Stream()
    owed = [b.patrol_request(subject=f"MPDDHP-2026-{100 + i}") for i in range(5)]
    committed = [b.patrol_request(subject=f"MPDDHP-2026-{200 + i}") for i in range(5)]
    batch = [stream.deliver(r) for r in owed + committed]
    for request in committed:
        batch += [
            stream.deliver(b.acknowledgement(request.id)),
            stream.deliver(b.acceptance(request.id)),
            stream.deliver(b.commitment(request.id, due=b.T0 + timedelta(days=30))),
        ]
    record_batch(ledger, batch, b.T0, b.RULES)
    app = create_app(ledger, store, Recorder(), clock=lambda: b.T0 + timedelta(days=1))
    async with client_for(app, store.issue_token("gro.government")) as http:
        for path, expected in (("/v1/requests", owed), ("/v1/commitments", committed)):
            seen: list[str] = []
            url = f"{path}?limit=2"
            while url:
                page = await http.get(url)
                assert page.status_code == 200, page.text
                assert len(page.json()) <= 2
                seen += [row["request_id"] for row in page.json()]
                following = page.links.get("next")
                url = following["url"] if following else ""
            assert sorted(seen) == sorted(r.id for r in expected), path
        too_many = await http.get("/v1/requests?limit=501")
        assert too_many.status_code == 422
