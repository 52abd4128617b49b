"""Webhooks against a local HTTPS server on loopback: signature, retry after a 500, and a
slow endpoint that times out without holding up the next delivery."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import col, select

from adapters.bridge.store import BridgeStore
from adapters.bridge.webhooks import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookDispatcher,
    backoff,
    signature,
    verify_signature,
)
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import NotificationAttemptRow
from adapters.natsserver.server import EmbeddedNatsServer
from adapters.natsserver.tls import make_development_tls
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from tests import builders as b
from tests.ledger_reads import recipient_status

PERSON = {"full_name": "Periodista P. Ejemplo", "address": "Domicilio 1"}


@dataclass
class Received:
    message_id: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Endpoint:
    """Answers per message id from a plan: "500", "200" or "hang" (until ``release``)."""

    url: str = ""
    plans: dict[str, list[str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, message_id: str) -> str:
        with self.lock:
            plan = self.plans.get(message_id, [])
            return plan.pop(0) if plan else "200"

    def of(self, message_id: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.message_id == message_id]


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[Endpoint, ssl.SSLContext]]:
    tls = make_development_tls(tmp_path / "tls", ("127.0.0.1",))
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            message_id = self.headers[MESSAGE_ID_HEADER]
            plan = state.answer(message_id)
            if plan == "hang":
                state.release.wait(30)
                plan = "200"
            status = int(plan)
            with state.lock:
                state.received.append(Received(message_id, dict(self.headers), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert, tls.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.url = f"https://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, ssl.create_default_context(cafile=str(tls.ca))
    state.release.set()
    server.shutdown()
    server.server_close()


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``predicate`` until it holds, failing after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def attempts(ledger: SqlLedger, message_id: str) -> list[tuple[int, str, bool, int | None]]:
    with ledger.session() as s:
        rows = s.exec(
            select(NotificationAttemptRow)
            .where(NotificationAttemptRow.message_id == message_id)
            .order_by(col(NotificationAttemptRow.id))
        ).all()
        return [(r.attempt, r.outcome, r.final, r.status_code) for r in rows]


def delivered(made: list[tuple[int, str, bool, int | None]]) -> bool:
    return any(outcome == "delivered" and final and code == 200 for _, outcome, final, code in made)


def test_signature_verification_and_replay_window() -> None:
    body = b'{"id":"x"}'
    signed = signature("s3cret", 1_700_000_000, body)
    assert verify_signature("s3cret", "1700000000", signed, body, now=1_700_000_100)
    assert not verify_signature("s3cret", "1700000000", signed, body + b" ", now=1_700_000_100)
    assert not verify_signature("other", "1700000000", signed, body, now=1_700_000_100)
    assert not verify_signature("s3cret", "1700000000", signed, body, now=1_700_000_301)
    assert [backoff(n, 2.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]


@pytest.mark.integration
async def test_signed_posts_retried_after_a_500_and_receipted(
    nats_server: EmbeddedNatsServer,
    hub: Hub,
    ledger: SqlLedger,
    tmp_path: Path,
    endpoint: tuple[Endpoint, ssl.SSLContext],
) -> None:
    server, trust = endpoint
    store = BridgeStore(tmp_path / "creds")
    secret = store.set_webhook("gro.commission", server.url)
    request = b.patrol_request(
        to="gro.commission", data={**b.patrol_request().data.model_dump(), "personal": PERSON}
    )
    server.plans[request.id] = ["500", "200"]
    dispatcher = WebhookDispatcher(
        nats_server.url, store, ledger, verify=trust, timeout=2.0, base_delay=0.2
    )
    await dispatcher.start()
    try:
        async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
            await mechanism.send(request)
        await until(lambda: len(attempts(ledger, request.id)) == 2)
    finally:
        await dispatcher.stop()
    posts = server.of(request.id)
    assert [p.answered for p in posts] == [500, 200]
    for post in posts:
        assert verify_signature(
            secret, post.headers[TIMESTAMP_HEADER], post.headers[SIGNATURE_HEADER], post.body
        )
        assert b"Periodista" not in post.body  # a commission may not know who
    assert attempts(ledger, request.id) == [
        (1, "failed", False, 500),
        (2, "delivered", True, 200),
    ]
    # the 2xx was the delivery: the agency's receipt, with the SDK's fixed id, reached the hub
    await hub.wait_until(
        lambda: recipient_status(ledger, request.id, "gro.commission") == "delivered"
    )


@pytest.mark.integration
async def test_a_slow_endpoint_times_out_without_blocking_the_next_delivery(
    nats_server: EmbeddedNatsServer,
    hub: Hub,
    ledger: SqlLedger,
    tmp_path: Path,
    endpoint: tuple[Endpoint, ssl.SSLContext],
) -> None:
    server, trust = endpoint
    store = BridgeStore(tmp_path / "creds")
    store.set_webhook("gro.government", server.url)
    slow = b.patrol_request()
    fast = b.patrol_request()
    server.plans[slow.id] = ["hang", "200"]
    # 3 s per POST: long enough for a TLS handshake and a receipt on a loaded machine, so
    # that only the endpoint that hangs can time out
    dispatcher = WebhookDispatcher(
        nats_server.url, store, ledger, verify=trust, timeout=3.0, base_delay=0.2
    )
    await dispatcher.start()
    try:
        async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
            await mechanism.send(slow)
            await mechanism.send(fast)
        # the fast one is delivered while the slow endpoint still holds the first attempt;
        # a fetch that expires as the message arrives hands it over again after ack_wait
        # (30 s), so the deadline covers one redelivery and the attempt number is not fixed
        await until(lambda: delivered(attempts(ledger, fast.id)), timeout=45.0)
        assert not server.release.is_set(), "the fast delivery waited for the slow endpoint"
        assert [a[1] for a in attempts(ledger, fast.id)] == ["delivered"], attempts(ledger, fast.id)
        assert attempts(ledger, slow.id) in ([], [(1, "failed", False, None)])
        # the slow attempt times out, is retried after its backoff, and then goes through
        await until(lambda: attempts(ledger, slow.id)[:1] == [(1, "failed", False, None)])
        server.release.set()
        await until(lambda: (2, "delivered", True, 200) in attempts(ledger, slow.id))
    finally:
        server.release.set()
        await dispatcher.stop()
    with ledger.session() as s:
        timed_out = s.exec(
            select(NotificationAttemptRow).where(
                NotificationAttemptRow.message_id == slow.id, NotificationAttemptRow.attempt == 1
            )
        ).one()
    assert timed_out.detail == "no answer within 3 s"


@pytest.mark.integration
async def test_a_webhook_registered_later_is_served(
    nats_server: EmbeddedNatsServer,
    hub: Hub,
    ledger: SqlLedger,
    tmp_path: Path,
    endpoint: tuple[Endpoint, ssl.SSLContext],
) -> None:
    server, trust = endpoint
    store = BridgeStore(tmp_path / "creds")
    dispatcher = WebhookDispatcher(nats_server.url, store, ledger, verify=trust, timeout=2.0)
    await dispatcher.start()  # nobody has a webhook yet
    watching = asyncio.create_task(dispatcher.watch(interval=0.05))
    try:
        store.set_webhook("gro.prosecutor", server.url)
        request = b.investigation_request()
        async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
            await mechanism.send(request)
        await until(lambda: attempts(ledger, request.id) == [(1, "delivered", True, 200)])
    finally:
        await dispatcher.stop()
        await watching


@pytest.mark.integration
async def test_nothing_of_a_case_is_posted_to_an_agency_named_presumed_aggressor_on_it(
    nats_server: EmbeddedNatsServer,
    hub: Hub,
    ledger: SqlLedger,
    tmp_path: Path,
    endpoint: tuple[Endpoint, ssl.SSLContext],
) -> None:
    from schemas.tracking import PresumedAggressor

    server, trust = endpoint
    store = BridgeStore(tmp_path / "creds")
    store.set_webhook("gro.commission", server.url)
    named = PresumedAggressor.model_validate(
        {
            "source": "fed.mechanism",
            "time": b.T0,
            "subject": "MPDDHP-2026-0412",
            "data": {"agency": "gro.commission", "action": "set", "official_role": "Titular"},
        }
    )
    # a raw publish past the Mechanism's sending path: the hub refuses it, but the copy is on
    # the commission's inbox; then a request of another case, which is posted
    raw = b.patrol_request(to="gro.commission")
    later = b.patrol_request(to="gro.commission", subject="MPDDHP-2026-0388")
    dispatcher = WebhookDispatcher(
        nats_server.url, store, ledger, verify=trust, timeout=2.0, base_delay=0.2
    )
    async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
        await mechanism.send(named)
        await hub.wait_until(lambda: recorded(ledger, named.id))
        await mechanism.send(raw)
        await mechanism.send(later)
    await dispatcher.start()
    try:
        await until(lambda: len(attempts(ledger, later.id)) == 1)
    finally:
        await dispatcher.stop()
    assert attempts(ledger, raw.id) == [(1, "withheld", True, None)]
    assert server.of(raw.id) == [] and len(server.of(later.id)) == 1


def recorded(ledger: SqlLedger, message_id: str) -> bool:
    from adapters.ledger.tables import MessageRow

    with ledger.session() as s:
        return (
            s.exec(select(MessageRow).where(MessageRow.message_id == message_id)).first()
            is not None
        )
