"""Each service's spans, exported to an in-memory exporter: who is whose parent, what links what."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiokafka import ConsumerRecord
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, StatusCode

from app.core import tracing
from app.core.events import TaskCreated, UserRegistered
from app.core.outbox import outbox_row
from app.core.settings import CommonSettings
from mailer.message import Message, Outcome
from mailer.tracing import trace_ignored, traced, traced_transport
from relay.publisher import Ack, Failure
from relay.store import ClaimedRow
from relay.tracing import traced_send
from tests.unit.mailer.fakes import FakeTransport

pytestmark = pytest.mark.unit


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on for the test, its spans kept in memory as each ends."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_provider", provider)
    yield exporter
    provider.shutdown()


def _context_of(span: ReadableSpan) -> SpanContext:
    context = span.get_span_context()
    assert context is not None
    return context


def _parent_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def _recorded_in_a_request(exported: InMemorySpanExporter) -> tuple[dict[str, str], ReadableSpan]:
    """The headers an outbox row records inside a request span, and that span."""
    with tracing.tracer("test").start_as_current_span("POST /tasks"):
        headers = outbox_row(TaskCreated(user_id=uuid.uuid4(), task_id=uuid.uuid4(), title="t"))[
            "headers"
        ]
    [request] = exported.get_finished_spans()
    exported.clear()
    return headers, request


def _claimed(headers: dict[str, str] | None, n: int = 1) -> ClaimedRow:
    return ClaimedRow(
        n,
        str(uuid.uuid4()),
        "events",
        str(uuid.uuid4()),
        "task.created",
        "{}",
        headers,
        time.time(),
    )


def test_tracing_stays_off_without_an_otlp_endpoint() -> None:
    settings = CommonSettings(otel_exporter_otlp_endpoint=None)
    assert tracing.configure_tracing(settings, service="test") is False
    assert not tracing.tracing_enabled()
    assert isinstance(tracing.tracer("test"), trace.NoOpTracer)


def test_without_a_span_an_outbox_row_records_only_the_cloudevents_time_and_subject() -> None:
    event = TaskCreated(user_id=uuid.uuid4(), task_id=uuid.uuid4(), title="t")
    headers = outbox_row(event)["headers"]
    assert headers == {
        "ce_time": event.model_dump(mode="json")["occurred_at"],
        "ce_subject": f"tasks/{event.task_id}",
    }
    user_event = UserRegistered(user_id=uuid.uuid4(), email="a@example.com")
    assert outbox_row(user_event)["headers"]["ce_subject"] == f"users/{user_event.user_id}"


def test_inside_a_span_an_outbox_row_records_that_span_as_its_traceparent(
    exported: InMemorySpanExporter,
) -> None:
    headers, request = _recorded_in_a_request(exported)
    context = _context_of(request)
    flags = f"{context.trace_flags:02x}"
    assert headers["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}"


def test_each_sent_message_is_a_child_of_its_creation_context_and_its_batch_links_them(
    exported: InMemorySpanExporter,
) -> None:
    headers, request = _recorded_in_a_request(exported)
    rows = [_claimed(headers, 1), _claimed(None, 2), _claimed(headers, 3)]

    with traced_send(rows) as record:
        record([Ack(2, 40), Ack(2, 41), Failure("MessageSizeTooLargeError", permanent=True)])

    spans = exported.get_finished_spans()
    batch = next(
        s for s in spans if s.attributes and "messaging.batch.message_count" in s.attributes
    )
    sent = [s for s in spans if s is not batch]
    assert [s.attributes["messaging.message.id"] for s in sent if s.attributes] == [
        rows[0].event_id,
        rows[2].event_id,
    ]  # a row written outside any trace has no span of its own
    for span in sent:
        assert _parent_id(span) == _context_of(request).span_id
        assert span.kind is trace.SpanKind.PRODUCER
        assert [link.context for link in span.links] == [batch.get_span_context()]
    assert [s.status.status_code for s in sent] == [StatusCode.UNSET, StatusCode.ERROR]
    assert sent[0].attributes is not None
    assert sent[0].attributes["messaging.kafka.offset"] == 40
    assert sent[0].attributes["messaging.destination.partition.id"] == "2"
    assert batch.parent is None
    assert [link.context.span_id for link in batch.links] == [_context_of(request).span_id] * 2
    assert batch.attributes is not None
    assert batch.attributes["messaging.batch.message_count"] == 3


def test_a_broker_outage_ends_every_send_span_as_an_error(exported: InMemorySpanExporter) -> None:
    headers, _ = _recorded_in_a_request(exported)
    with pytest.raises(ConnectionError), traced_send([_claimed(headers)]):
        raise ConnectionError("broker down")

    spans = exported.get_finished_spans()
    assert len(spans) == 2
    assert {s.status.status_code for s in spans} == {StatusCode.ERROR}


def test_without_tracing_the_relay_and_the_mailer_add_nothing() -> None:
    async def handler(message: Message) -> Outcome:
        return Outcome.IGNORED

    transport = FakeTransport()
    assert traced(handler) is handler
    assert traced_transport(transport, host="smtp", port=25) is transport
    with traced_send([_claimed(None)]) as record:
        record([Ack(0, 0)])


async def test_the_mailer_processes_a_message_in_its_creation_context_and_sends_within_it(
    exported: InMemorySpanExporter,
) -> None:
    headers, request = _recorded_in_a_request(exported)
    transport = traced_transport(FakeTransport(), host="smtp.example.com", port=587)

    async def handler(message: Message) -> Outcome:
        email = EmailMessage()
        email["To"] = "a@example.com"
        await transport.send(email, recipient="a@example.com")
        return Outcome.SENT

    wire = [("event_id", b"e1"), *((k, v.encode()) for k, v in headers.items())]
    assert await traced(handler)(Message("events", 2, 41, b"k", b"{}", wire)) is Outcome.SENT

    smtp, process = exported.get_finished_spans()
    assert process.name == "process events"
    assert process.kind is trace.SpanKind.CONSUMER
    assert _parent_id(process) == _context_of(request).span_id
    assert [link.context.span_id for link in process.links] == [_context_of(request).span_id]
    assert process.attributes is not None
    assert process.attributes["mailer.outcome"] == "sent"
    assert process.attributes["messaging.message.id"] == "e1"
    assert process.attributes["messaging.kafka.offset"] == 41
    assert (smtp.name, smtp.kind) == ("smtp send", trace.SpanKind.CLIENT)
    assert _parent_id(smtp) == _context_of(process).span_id


def test_a_record_skipped_by_its_type_header_still_gets_an_ignored_process_span(
    exported: InMemorySpanExporter,
) -> None:
    headers, request = _recorded_in_a_request(exported)
    record = ConsumerRecord(
        topic="events",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"{}",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=2,
        headers=[(k, v.encode()) for k, v in headers.items()],
    )
    trace_ignored(record)

    [span] = exported.get_finished_spans()
    assert _parent_id(span) == _context_of(request).span_id
    assert span.attributes is not None
    assert span.attributes["mailer.outcome"] == "ignored"
