"""Traces across the bus: a request and every answer to it form one trace, from the Mechanism's
send through the agency's answers to the hub's record of each, and nothing personal is in it."""

from __future__ import annotations

import asyncio
import re
import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlmodel import select

from adapters import environment
from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import MessageRow
from adapters.natsserver.server import EmbeddedNatsServer
from adapters.observability import tracing as setup
from bus.runtime import publishing, tracing
from bus.runtime.agency import AgencyClient
from bus.runtime.hub import Hub
from tests import builders as b
from tests.cli_processes import (
    SEND_PATROL,
    json_lines,
    launch,
    run,
    wait_for_hub,
    wait_until_gone,
)
from tests.ledger_reads import recipient_status
from tests.test_sdk_alone import BLOCKER
from tests.test_sdk_alone import run as run_alone

pytestmark = pytest.mark.integration
ON_SQLITE = pytest.mark.parametrize("ledger_url", ["sqlite"], indirect=True)

PERSON = {"full_name": "Periodista P. Ejemplo", "address": "Domicilio Conocido 17, Iguala"}
INSTRUCTIONS = "Rondines frente al domicilio de la periodista cada 4 horas."
CASE = "MPDDHP-2026-0412"


def named_request() -> object:
    data = {**b.patrol_request().data.model_dump(), "personal": PERSON}
    return b.patrol_request(data={**data, "instructions": INSTRUCTIONS})


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    traced = setup.setup("console", "mechbus-test", exporter=exporter)
    yield exporter
    traced.shutdown()


def records(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith("mechbus.record ")]


@ON_SQLITE
async def test_a_request_and_its_answers_are_one_trace(
    exported: InMemorySpanExporter, hub: Hub, ledger: SqlLedger, nats_server: EmbeddedNatsServer
) -> None:
    request = named_request()
    async with (
        await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(nats_server.url, "gro.government") as government,
    ):
        with tracing.sending(request.type, request.id):
            await mechanism.send(request)
        incoming = await anext(government.requests())  # the receipt goes out by itself
        await incoming.acknowledge("Subsecretaría de Derechos Humanos")
        await incoming.accept()
        await hub.wait_until(
            lambda: recipient_status(ledger, request.id, "gro.government") == "accepted"
        )
    assert ledger.count(MessageRow) == 4
    spans = exported.get_finished_spans()
    [send] = [s for s in spans if s.name == f"mechbus.send {request.type}"]
    recorded = records(spans)
    assert sorted(s.name for s in recorded) == sorted(
        f"mechbus.record {t}"
        for t in (
            "mech.request.protection_measure.v1",
            "mech.response.delivery_receipt.v1",
            "mech.response.acknowledgement.v1",
            "mech.response.accepted.v1",
        )
    )
    assert {s.context.trace_id for s in [send, *recorded]} == {send.context.trace_id}
    assert all(s.parent is not None and s.parent.span_id == send.context.span_id for s in recorded)
    for span in recorded:
        attributes = dict(span.attributes or {})
        assert attributes["messaging.system"] == "nats"
        assert attributes["mechbus.result"] == "recorded"
        assert {"messaging.message.id", "mechbus.message.type", "mechbus.sender"} <= set(attributes)
        assert isinstance(attributes["mechbus.stream_seq"], int)
    said = " ".join(str(v) for s in spans for v in dict(s.attributes or {}).values())
    for secret in (*PERSON.values(), INSTRUCTIONS, CASE):
        assert secret not in said


@ON_SQLITE
async def test_a_refused_message_is_traced_without_its_subject_or_body(
    exported: InMemorySpanExporter, hub: Hub, ledger: SqlLedger, nats_server: EmbeddedNatsServer
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        await nc.jetstream().publish(
            "mech.v1.from.gro.government.Periodista-Ejemplo", b'{"name": "Periodista P. Ejemplo"}'
        )
    finally:
        await nc.close()
    await hub.wait_until(lambda: hub.dead_letters == 1)
    [span] = records(exported.get_finished_spans())
    attributes = dict(span.attributes or {})
    assert span.parent is None and attributes["mechbus.result"] == "dead_letter"
    assert "mechbus.reason" in attributes and "messaging.destination.name" not in attributes
    assert "Periodista" not in " ".join(str(v) for v in attributes.values())


@ON_SQLITE
async def test_with_tracing_off_nothing_is_added_and_nothing_breaks(
    hub: Hub, ledger: SqlLedger, nats_server: EmbeddedNatsServer
) -> None:
    setup.setup("off", "mechbus-test").shutdown()
    request = b.patrol_request()
    async with (
        await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism,
        await AgencyClient.connect(nats_server.url, "gro.government") as government,
    ):
        with tracing.sending(request.type, request.id):
            [published] = await mechanism.send(request)
        incoming = await anext(government.requests())
        await incoming.acknowledge("Subsecretaría de Derechos Humanos")
        await hub.wait_until(
            lambda: recipient_status(ledger, request.id, "gro.government") == "acknowledged"
        )
        stored = await mechanism.js.get_msg("MECHBUS", published.seq)
    assert "traceparent" not in (stored.headers or {})
    assert ledger.count(MessageRow) == 3


TRACE_ID = re.compile(r'"trace_id": "(0x[0-9a-f]{32})"')
SPAN_NAME = re.compile(r'"name": "(mechbus\.[a-z]+ [a-z_.0-9]+)"')


def spans_printed(output: str) -> list[tuple[str, str]]:
    """(name, trace id) of each span the console exporter printed, in order."""
    return list(zip(SPAN_NAME.findall(output), TRACE_ID.findall(output), strict=True))


@pytest.mark.e2e
@pytest.mark.usefixtures("english_cli")
def test_send_and_up_traced_on_the_console_share_the_trace(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = launch(["up", "--trace", "console", "--http-listen", "127.0.0.1:0"], home)
    try:
        wait_for_hub(proc)
        sent = run(["send", "--trace", "console", *SEND_PATROL[1:], "--instructions", "R."], home)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        deadline = time.monotonic() + 30
        while not json_lines(["requests"], home):
            assert time.monotonic() < deadline, "the request was not recorded"
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0]
        wait_until_gone(str(home))
    [(name, trace_id)] = spans_printed(sent.stdout)
    assert name == "mechbus.send mech.request.protection_measure.v1"
    assert ("mechbus.record mech.request.protection_measure.v1", trace_id) in spans_printed(output)


def test_the_way_of_tracing_is_chosen_once_and_checked() -> None:
    assert environment.trace(None, {}) == "off"
    assert environment.trace(None, {"MECHBUS_TRACE": "OTLP"}) == "otlp"
    assert environment.trace("console", {"MECHBUS_TRACE": "otlp"}) == "console"
    with pytest.raises(environment.SettingsError, match="MECHBUS_TRACE"):
        environment.trace(None, {"MECHBUS_TRACE": "jaeger"})
    traced = setup.setup("otlp", "mechbus-test")  # nothing exported until a span ends
    try:
        assert traced.on and tracing.context_headers() == {}  # no span is current
    finally:
        traced.shutdown()
    assert not tracing.context_headers() and not traced.on


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
ANSWERING_ALONE = BLOCKER + textwrap.dedent(
    """
    import asyncio

    from bus.runtime.agency import AgencyClient

    async def main(url):
        async with await AgencyClient.connect(url, "gro.government") as government:
            incoming = await anext(government.requests())
            acknowledged = await incoming.acknowledge("Subsecretaría de Derechos Humanos")
            print(acknowledged.id)

    asyncio.run(main(sys.argv[1]))
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in FederalBlocked.BLOCKED)
    assert not loaded, loaded
    """
)


@ON_SQLITE
async def test_the_sdk_alone_carries_the_request_s_trace_onto_its_answers(
    hub: Hub, ledger: SqlLedger, nats_server: EmbeddedNatsServer
) -> None:
    request = b.patrol_request()
    async with await AgencyClient.connect(nats_server.url, "fed.mechanism") as mechanism:
        context = {"traceparent": TRACEPARENT, "tracestate": "mechbus=1"}
        await publishing.publish_message(mechanism.transport, request, headers=context)
        done = await asyncio.to_thread(run_alone, ANSWERING_ALONE, nats_server.url)
        assert done.returncode == 0, done.stderr
        await hub.wait_until(
            lambda: recipient_status(ledger, request.id, "gro.government") == "acknowledged"
        )
        with ledger.session() as session:
            seqs = session.exec(select(MessageRow.stream_seq).order_by(MessageRow.stream_seq))
            stored = [await mechanism.js.get_msg("MECHBUS", seq) for seq in seqs.all()]
    assert len(stored) == 3  # the request, the receipt, the acknowledgement
    assert all((m.headers or {}).get("traceparent") == TRACEPARENT for m in stored)
    assert all((m.headers or {}).get("tracestate") == "mechbus=1" for m in stored)
