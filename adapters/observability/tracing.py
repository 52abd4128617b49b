"""OpenTelemetry traces for a mechbus process, off unless asked for (``--trace`` or
``MECHBUS_TRACE``): printed on stdout (console) or exported over OTLP/HTTP to where the standard
``OTEL_EXPORTER_OTLP_*`` variables say. What is traced is decided in bus.runtime.tracing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from adapters import environment
from bus.runtime import tracing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

TRACER = "mechbus"


class TraceMode(StrEnum):
    OFF = "off"
    CONSOLE = "console"
    OTLP = "otlp"


@dataclass
class Tracing:
    """Tracing as set up; ``shutdown`` exports what is left and turns it off."""

    provider: TracerProvider | None = None

    @property
    def on(self) -> bool:
        return self.provider is not None

    def shutdown(self) -> None:
        tracing.use(None)
        if self.provider is not None:
            self.provider.shutdown()
            self.provider = None


def setup(
    mode: TraceMode | str | None, service: str, exporter: SpanExporter | None = None
) -> Tracing:
    """Trace this process as ``service`` in ``mode`` (None: ``MECHBUS_TRACE``, else off).

    ``exporter`` replaces the mode's own (a test's in-memory exporter). The provider is this
    process's tracer for mechbus's own spans only, not OpenTelemetry's global one: turned off,
    nothing is traced at all, whatever another library set up.
    """
    chosen = TraceMode(environment.trace(mode))
    if chosen is TraceMode.OFF and exporter is None:
        tracing.use(None)
        return Tracing()
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif chosen is TraceMode.CONSOLE:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracing.use(provider.get_tracer(TRACER))
    return Tracing(provider)
