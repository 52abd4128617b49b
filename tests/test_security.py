"""Least privilege on a real nats-server configured from the agency registry: per-agency nkey
users, subject permissions, no anonymous access, revocation, no spoofing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import Error as NatsError
from sqlmodel import select

from adapters.ledger.store import SqlLedger, sqlite_url
from adapters.ledger.tables import DeadLetterRow, MessageRow
from adapters.natsserver.credentials import CredentialError, CredentialStore
from adapters.natsserver.server import EmbeddedNatsServer
from bus.runtime.agency import AgencyClient, AgencyError
from bus.runtime.hub import Hub
from schemas.tracking import Rejected, RejectionReason
from tests import builders as b
from tests.ledger_reads import credentials
from tests.ledgers import upgraded_ledger

pytestmark = pytest.mark.integration

AGENCIES = ("fed.mechanism", "gro.government", "ver.government", "shelter.casa-refugio-cdmx")


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return credentials(tmp_path / "creds", AGENCIES)


@pytest.fixture
def secure_server(tmp_path: Path, store: CredentialStore) -> Iterator[EmbeddedNatsServer]:
    with EmbeddedNatsServer(tmp_path / "nats", extra_config=store.server_config()) as server:
        yield server


@pytest.fixture
async def hub(
    secure_server: EmbeddedNatsServer, store: CredentialStore, tmp_path: Path
) -> AsyncIterator[tuple[Hub, SqlLedger]]:
    ledger = upgraded_ledger(sqlite_url(tmp_path / "ledger.db"))
    hub = Hub(ledger, secure_server.url, creds=store.seed_path("fed.hub"), provision=AGENCIES)
    await hub.start()
    yield hub, ledger
    await hub.stop()
    ledger.close()


async def client(server: EmbeddedNatsServer, store: CredentialStore, agency: str) -> AgencyClient:
    return await AgencyClient.connect(server.url, agency, creds=store.seed_path(agency))


class Violations:
    """Collects what the server refuses a raw connection, so a test can wait for it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.event = asyncio.Event()

    async def record(self, exc: Exception) -> None:
        self.seen.append(str(exc))
        self.event.set()

    async def wait_for(self, words: str) -> str:
        async with asyncio.timeout(10):
            # nats-py lower-cases the server's error text, subjects included
            while not any(words.lower() in v.lower() for v in self.seen):
                self.event.clear()
                await self.event.wait()
        return next(v for v in self.seen if words.lower() in v.lower())


async def test_the_whole_flow_works_with_credentials(
    secure_server: EmbeddedNatsServer, store: CredentialStore, hub: tuple[Hub, SqlLedger]
) -> None:
    bus_hub, ledger = hub
    async with (
        await client(secure_server, store, "fed.mechanism") as mechanism,
        await client(secure_server, store, "gro.government") as guerrero,
    ):
        request = b.patrol_request()
        await mechanism.send(request)
        incoming = await anext(guerrero.requests())
        await incoming.acknowledge("Subsecretaría de Derechos Humanos")
        await bus_hub.wait_until(lambda: ledger.count(MessageRow) == 3)
        assert guerrero.violations == [] and mechanism.violations == []


async def test_anonymous_and_unknown_keys_are_refused(
    secure_server: EmbeddedNatsServer, store: CredentialStore, tmp_path: Path
) -> None:
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(secure_server.url, allow_reconnect=False, max_reconnect_attempts=0)
    stranger = CredentialStore(tmp_path / "elsewhere")
    stranger.init()
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(
            secure_server.url,
            nkeys_seed=str(stranger.seed_path("fed.hub")),
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )


async def test_revoked_credentials_stop_working(
    secure_server: EmbeddedNatsServer, store: CredentialStore, tmp_path: Path
) -> None:
    kept = tmp_path / "gro.government.nk"
    kept.write_bytes(store.seed_path("gro.government").read_bytes())
    await (await client(secure_server, store, "gro.government")).close()  # works before
    store.revoke("gro.government")
    secure_server.reload(store.server_config())
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(
            secure_server.url, nkeys_seed=str(kept), allow_reconnect=False, max_reconnect_attempts=0
        )
    with pytest.raises(CredentialError, match="holds no credentials"):
        store.revoke("gro.government")
    with pytest.raises(CredentialError, match="unknown agency"):
        store.issue("gro.police")


async def raw(
    server: EmbeddedNatsServer, store: CredentialStore, agency: str, violations: Violations
) -> nats.aio.client.Client:
    return await nats.connect(
        server.url,
        nkeys_seed=str(store.seed_path(agency)),
        error_cb=violations.record,
        inbox_prefix=f"_INBOX.{agency}".encode(),
    )


async def test_an_agency_cannot_read_another_agencys_requests(
    secure_server: EmbeddedNatsServer, store: CredentialStore, hub: tuple[Hub, SqlLedger]
) -> None:
    violations = Violations()
    spy = await raw(secure_server, store, "gro.government", violations)
    received: list[bytes] = []

    async def keep(msg: nats.aio.msg.Msg) -> None:
        received.append(msg.data)

    await spy.subscribe("mech.v1.to.ver.government.>", cb=keep)
    await violations.wait_for('subscription to "mech.v1.to.ver.government.>"')
    # nor through JetStream: not its consumer, and no consumer of its own making
    js = spy.jetstream()
    sub = await js.pull_subscribe_bind("agency-ver-government", "MECHBUS")
    with pytest.raises(TimeoutError):
        await sub.fetch(1, timeout=1)
    await violations.wait_for("$JS.API.CONSUMER.MSG.NEXT.MECHBUS.agency-ver-government")
    with pytest.raises(TimeoutError):
        await js.add_consumer(
            "MECHBUS", durable_name="sneaky", filter_subject="mech.v1.to.>", timeout=1
        )
    await violations.wait_for("$JS.API.CONSUMER")
    async with await client(secure_server, store, "fed.mechanism") as mechanism:
        await mechanism.send(b.patrol_request(to="ver.government", subject="MPDDHP-2026-0388"))
    await spy.flush()
    assert received == []
    await spy.close()


async def test_an_agency_cannot_speak_in_another_agencys_name(
    secure_server: EmbeddedNatsServer, store: CredentialStore, hub: tuple[Hub, SqlLedger]
) -> None:
    bus_hub, ledger = hub
    request = b.patrol_request(recipients=("gro.government", "ver.government"))
    async with (
        await client(secure_server, store, "fed.mechanism") as mechanism,
        await client(secure_server, store, "gro.government") as guerrero,
    ):
        await mechanism.send(request)
        await bus_hub.wait_until(lambda: ledger.count(MessageRow) == 1)
        # On another agency's subject: the server refuses, and the client says so.
        forged = b.acknowledgement(request.id, by="ver.government")
        with pytest.raises(ValueError, match=r"speaks as gro\.government"):
            await guerrero.send(forged)
        from bus.runtime import jetstream

        with pytest.raises(jetstream.PublishError):
            await jetstream.publish(guerrero.js, forged, stream="MECHBUS")
        assert any("mech.v1.from.ver.government" in v.lower() for v in guerrero.violations)
        # On its own subject with another agency as source: the hub refuses and keeps it.
        await guerrero.js.publish(
            "mech.v1.from.gro.government.acknowledgement", forged.to_json(), stream="MECHBUS"
        )
        notice = await guerrero.next_notice()
        assert isinstance(notice, Rejected)
        assert notice.data.reason is RejectionReason.SPOOFED_SOURCE
        # Only the Mechanism may write to an agency's inbox.
        with pytest.raises(Exception):  # noqa: B017 - no PubAck ever comes: a timeout
            await guerrero.js.publish(
                "mech.v1.to.ver.government.protection_measure",
                b"{}",
                stream="MECHBUS",
                timeout=1,
            )
        assert any("mech.v1.to.ver.government" in v.lower() for v in guerrero.violations)
    await bus_hub.wait_until(lambda: ledger.count(DeadLetterRow) == 1)
    with ledger.session() as session:
        types = sorted(m.type for m in session.exec(select(MessageRow)))
    # the request, gro.government's own receipt (read while waiting for its notice) and the
    # hub's notice: nothing forged
    assert types == [
        "mech.request.protection_measure.v1",
        "mech.response.delivery_receipt.v1",
        "mech.tracking.rejected.v1",
    ]


async def test_only_the_hub_writes_a_placement_confirmation_to_a_shelter(
    secure_server: EmbeddedNatsServer, store: CredentialStore
) -> None:
    shelter = "shelter.casa-refugio-cdmx"
    violations = Violations()
    mechanism = await raw(secure_server, store, "fed.mechanism", violations)
    held = f"mech.v1.to.{shelter}.placement_confirmed"
    with pytest.raises(Exception):  # noqa: B017 - no PubAck ever comes: a timeout
        await mechanism.jetstream().publish(held, b"{}", stream="MECHBUS", timeout=1)
    await violations.wait_for(f'publish to "{held}"')
    await mechanism.close()
    # and the shelter cannot read the Mechanism's outbox, where the confirmation travels
    violations = Violations()
    spy = await raw(secure_server, store, shelter, violations)
    await spy.subscribe("mech.v1.from.fed.mechanism.>")
    await violations.wait_for('subscription to "mech.v1.from.fed.mechanism.>"')
    await spy.close()


async def test_a_client_sees_its_permission_errors(
    secure_server: EmbeddedNatsServer, store: CredentialStore, tmp_path: Path
) -> None:
    # No hub has provisioned the agency's consumer, and it may not create one itself.
    async with await client(secure_server, store, "gro.government") as guerrero:
        with pytest.raises(AgencyError, match="no consumer agency-gro-government was provisioned"):
            await guerrero.listen()


async def test_tls_is_required_and_verified(tmp_path: Path, store: CredentialStore) -> None:
    import ssl

    from adapters.natsserver.tls import make_development_tls

    tls = make_development_tls(tmp_path / "tls")
    config = store.server_config() + tls.server_config()
    ledger = upgraded_ledger(sqlite_url(tmp_path / "tls-ledger.db"))
    with EmbeddedNatsServer(tmp_path / "tls-nats", extra_config=config) as server:
        hub = Hub(
            ledger,
            server.url,
            creds=store.seed_path("fed.hub"),
            provision=AGENCIES,
            tls=tls.client_context(),
        )
        await hub.start()
        try:
            async with await AgencyClient.connect(
                server.url,
                "fed.mechanism",
                creds=store.seed_path("fed.mechanism"),
                tls=tls.client_context(),
            ) as mechanism:
                await mechanism.send(b.patrol_request())
            await hub.wait_until(lambda: ledger.count(MessageRow) == 1)
        finally:
            await hub.stop()
        # without TLS, or trusting another CA: no connection
        with pytest.raises(Exception):  # noqa: B017 - nats-py raises several kinds here
            await nats.connect(
                server.url,
                nkeys_seed=str(store.seed_path("gro.government")),
                allow_reconnect=False,
                max_reconnect_attempts=0,
            )
        other = make_development_tls(tmp_path / "other-tls")
        with pytest.raises(ssl.SSLCertVerificationError):
            await nats.connect(
                server.url,
                nkeys_seed=str(store.seed_path("gro.government")),
                tls=other.client_context(),
                allow_reconnect=False,
                max_reconnect_attempts=0,
            )
    ledger.close()
    assert oct(tls.key.stat().st_mode & 0o777) == "0o600"


async def test_replays_and_oversize_input_on_the_secured_bus(
    secure_server: EmbeddedNatsServer, store: CredentialStore, hub: tuple[Hub, SqlLedger]
) -> None:
    bus_hub, ledger = hub
    async with (
        await client(secure_server, store, "fed.mechanism") as mechanism,
        await client(secure_server, store, "gro.government") as guerrero,
    ):
        old = b.patrol_request()
        await mechanism.send(old)
        [replayed] = await mechanism.send(old)  # within the duplicate window
        assert replayed.duplicate
        await guerrero.js.publish(  # its own subject, but far too big
            "mech.v1.from.gro.government.acknowledgement", b"x" * 70_000, stream="MECHBUS"
        )
        notice = await guerrero.next_notice()
        assert notice.data.reason is RejectionReason.OVERSIZE  # type: ignore[attr-defined]
    await bus_hub.wait_until(lambda: ledger.count(DeadLetterRow) == 1)
    with ledger.session() as session:
        requests = session.exec(
            select(MessageRow).where(MessageRow.type == "mech.request.protection_measure.v1")
        ).all()
    assert len(requests) == 1


async def test_the_agency_client_drops_personal_details_it_should_not_have(
    secure_server: EmbeddedNatsServer, store: CredentialStore, hub: tuple[Hub, SqlLedger]
) -> None:
    async with (
        await client(secure_server, store, "fed.mechanism") as mechanism,
        await client(secure_server, store, "shelter.casa-refugio-cdmx") as shelter,
    ):
        leaky = b.relocation_request(("shelter.casa-refugio-cdmx",))
        # published raw, skipping the publisher's redaction: the client is the second guard
        await mechanism.js.publish(
            "mech.v1.to.shelter.casa-refugio-cdmx.relocation",
            leaky.to_json(),
            stream="MECHBUS",
            headers={"Nats-Msg-Id": leaky.id},
        )
        received = await anext(shelter.requests())
    assert received.message.data.personal == ()  # type: ignore[attr-defined]
