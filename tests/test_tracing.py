"""Traces across the bus: a request and every answer to it form one trace, from the Mechanism's
send through the agency's answers to the hub's record of each, and nothing personal is in it."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.ledger.store import SqlLedger
from adapters.ledger.tables import MessageRow
from adapters.natsserver.server import EmbeddedNatsServer
from adapters.observability import tracing as setup
from bus.runtime import tracing
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
    proc = launch(["up", "--trace", "console"], home)
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
