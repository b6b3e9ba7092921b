"""The mailer's spans, per the OpenTelemetry messaging conventions, and only while tracing is on.

Each record gets a `process` span whose parent is the creation context its headers carry (the
span the event was written in), linked to it as well, so the trace of a change shows what the
mailer did with its event: an email sent (with an `smtp send` span per attempt), a duplicate
skipped, a dead letter, or an event ignored. Hand-made rather than the aiokafka
instrumentation's: that one's spans end when `getmany` returns, before any processing, and it
would append a `traceparent` of its own to the dead-letter records (decision 0014).
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import Message as EmailMessage

from aiokafka import ConsumerRecord
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from app.core.envelope import EVENT_ID_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER, header
from app.core.tracing import creation_context, link_to, messaging_attributes, tracer
from app.core.tracing import tracing_enabled as enabled
from mailer.message import Handler, Message, Outcome
from mailer.transport import MailTransport

OUTCOME_ATTRIBUTE = "mailer.outcome"


def _context(headers: Sequence[tuple[str, bytes]]) -> Context | None:
    carrier = {
        name: value.decode(errors="replace")
        for name in (TRACEPARENT_HEADER, TRACESTATE_HEADER)
        if (value := header(headers, name)) is not None
    }
    return creation_context(carrier)


def _attributes(
    topic: str, partition: int, offset: int, headers: Sequence[tuple[str, bytes]]
) -> dict[str, str | int]:
    extra: dict[str, str | int] = {
        "destination.partition.id": str(partition),
        "kafka.offset": offset,
    }
    if (event_id := header(headers, EVENT_ID_HEADER)) is not None:
        extra["message.id"] = event_id.decode(errors="replace")
    return messaging_attributes("process", topic, extra)


def traced(handler: Handler) -> Handler:
    """`handler` inside a `process` span per message; `handler` itself while tracing is off."""
    if not enabled():
        return handler
    process = tracer(__name__)

    async def traced_handler(message: Message) -> Outcome:
        context = _context(message.headers)
        with process.start_as_current_span(
            f"process {message.topic}",
            context=context,
            kind=SpanKind.CONSUMER,
            links=[link_to(context)] if context is not None else None,
            attributes=_attributes(
                message.topic, message.partition, message.offset, message.headers
            ),
        ) as span:
            outcome = await handler(message)
            span.set_attribute(OUTCOME_ATTRIBUTE, outcome.value)
            return outcome

    return traced_handler


def trace_ignored(record: ConsumerRecord[bytes, bytes]) -> None:
    """A `process` span for a record acknowledged by its event type header alone."""
    if not enabled():
        return
    headers = tuple(record.headers or ())
    context = _context(headers)
    span = tracer(__name__).start_span(
        f"process {record.topic}",
        context=context,
        kind=SpanKind.CONSUMER,
        links=[link_to(context)] if context is not None else None,
        attributes=_attributes(record.topic, record.partition, record.offset, headers),
    )
    span.set_attribute(OUTCOME_ATTRIBUTE, Outcome.IGNORED.value)
    span.end()


class TracedTransport:
    """A `smtp send` client span around each delivery attempt of `transport`."""

    def __init__(self, transport: MailTransport, *, host: str, port: int) -> None:
        self._transport = transport
        self._attributes: dict[str, str | int] = {
            "server.address": host,
            "server.port": port,
            "network.protocol.name": "smtp",
        }

    async def send(self, message: EmailMessage, *, recipient: str) -> None:
        with tracer(__name__).start_as_current_span(
            "smtp send", kind=SpanKind.CLIENT, attributes=self._attributes
        ):
            await self._transport.send(message, recipient=recipient)

    async def close(self) -> None:
        await self._transport.close()


def traced_transport(transport: MailTransport, *, host: str, port: int) -> MailTransport:
    """`transport` with a span per send while tracing is on; `transport` itself otherwise."""
    return TracedTransport(transport, host=host, port=port) if enabled() else transport
