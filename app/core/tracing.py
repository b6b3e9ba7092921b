"""Tracing: OpenTelemetry spans, exported by OTLP only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

One trace per change: the span current when an event is written (the API's request span, the
scheduler's digest run) is recorded with its outbox row as W3C Trace Context (`traceparent`,
`tracestate`), travels as Kafka headers, and is the parent of the relay's send span and of the
mailer's processing span (decision 0014).

Off by default. Then no tracer provider exists, nothing is instrumented, every span is the API's
non-recording no-op, and `trace_headers` costs one context lookup: the hot path pays next to
nothing. The SDK and the exporter are imported only when tracing is on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.trace import Link, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from app.core.envelope import TRACEPARENT_HEADER
from app.core.settings import CommonSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

#: `service.name` of each process unless `OTEL_SERVICE_NAME` says otherwise.
SERVICE_PREFIX: Final = "eventful-todo-"
_PROPAGATOR: Final = TraceContextTextMapPropagator()
_NO_TRACER: Final = trace.NoOpTracer()

_provider: TracerProvider | None = None


def configure_tracing(
    settings: CommonSettings, *, service: str, instrument_database: bool = True
) -> bool:
    """Start exporting this process's spans if `OTEL_EXPORTER_OTLP_ENDPOINT` is set; True if so.

    Idempotent. With `instrument_database`, connections opened afterwards report their
    statements as child spans (the psycopg instrumentation).
    """
    global _provider  # noqa: PLW0603 - one provider per process, like the logging configuration
    endpoint = settings.otel_exporter_otlp_endpoint
    if _provider is not None or not endpoint:
        return _provider is not None
    # Imported here: a process that does not trace never loads the SDK or protobuf.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    name = os.environ.get("OTEL_SERVICE_NAME") or f"{SERVICE_PREFIX}{service}"
    # The provider flushes its queue at interpreter exit (its atexit hook): a stopped service
    # still exports the spans of its last seconds.
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider = provider
    # The instrumentations' propagator: none. The API is the edge, so a trace starts at its own
    # request span whatever a client sends, and no client's `tracestate` reaches the outbox.
    # Our propagation (outbox headers, Kafka records) uses `_PROPAGATOR` explicitly.
    propagate.set_global_textmap(_Untrusted())
    if instrument_database:
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor  # noqa: PLC0415

        PsycopgInstrumentor().instrument(tracer_provider=provider)
    return True


class _Untrusted(TextMapPropagator):
    """Reads no context from a carrier and writes none into one."""

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        return context if context is not None else Context()

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        return None

    @property
    def fields(self) -> set[str]:
        return set()


def tracing_enabled() -> bool:
    """Whether this process traces (`configure_tracing` found an endpoint)."""
    return _provider is not None


def tracer_provider() -> TracerProvider | None:
    """This process's provider, for instrumentations; None while tracing is off."""
    return _provider


def tracer(name: str) -> Tracer:
    """A tracer of this process; the no-op tracer while tracing is off."""
    return _NO_TRACER if _provider is None else _provider.get_tracer(name)


def trace_headers() -> dict[str, str]:
    """The current span's W3C Trace Context as headers; empty without a valid current span."""
    if not trace.get_current_span().get_span_context().is_valid:
        return {}
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def creation_context(headers: Mapping[str, str] | None) -> Context | None:
    """The context a message was created in, from its recorded headers; None if it has none."""
    if not headers or TRACEPARENT_HEADER not in headers:
        return None
    extracted = _PROPAGATOR.extract(headers)
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def link_to(context: Context) -> Link:
    """A span link to the span of `context` (messaging: one per message of a batch)."""
    return Link(trace.get_current_span(context).get_span_context())


def messaging_attributes(
    operation: str, topic: str, extra: Mapping[str, str | int] | None = None
) -> dict[str, str | int]:
    """The OpenTelemetry messaging attributes of a Kafka span (`operation`: send or process);
    `extra` names more of them without the `messaging.` prefix, e.g. `message.id`."""
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.name": operation,
        "messaging.operation.type": operation,
        "messaging.destination.name": topic,
    }
    for name, value in (extra or {}).items():
        attributes[f"messaging.{name}"] = value
    return attributes


@contextmanager
def internal_span(name: str, attributes: Mapping[str, str | int] | None = None) -> Iterator[None]:
    """A span of this process's own work around the block, current within it; free when off."""
    if _provider is None:
        yield
        return
    with _provider.get_tracer(__name__).start_as_current_span(
        name, kind=SpanKind.INTERNAL, attributes=attributes
    ):
        yield
