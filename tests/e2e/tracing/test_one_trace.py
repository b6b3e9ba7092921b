"""One trace per change: the request (or the digest run), the relay's send and the mailer's work
on that event are spans of one trace, exported by each process to a real OTLP receiver."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.core.events import DailyDigestRequested
from tests.support.kafka import topic_records
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.processes import Deployment, sync_url, wait_until

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
WAIT_SECONDS = 60
API, RELAY, MAILER, SCHEDULER = (
    f"eventful-todo-{name}" for name in ("api", "relay", "mailer", "scheduler")
)


def _signed_up(client: httpx.Client) -> tuple[uuid.UUID, str, dict[str, str]]:
    email = f"trace-{uuid.uuid4().hex[:10]}@example.com"
    created = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return uuid.UUID(created.json()["id"]), email, headers


def _outbox_row(deployment: Deployment, where: str, **params: str) -> Any:
    """event_id and headers of the one outbox row matching `where`."""
    engine = create_engine(sync_url(deployment.database_url))
    try:
        with engine.connect() as conn:
            query = text(f"SELECT event_id::text, headers FROM outbox WHERE {where}")  # noqa: S608
            return conn.execute(query, params).one()
    finally:
        engine.dispose()


def _creation_context(headers: dict[str, str]) -> tuple[str, str]:
    """(trace id, span id) of the recorded `traceparent`."""
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert version == "00"
    assert int(flags, 16) & 1  # sampled: the whole trace is exported
    return trace_id, span_id


def _one(spans: list[ReceivedSpan], **where: Any) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in where.items())]
    assert len(found) == 1, (where, spans)
    return found[0]


def _sent_by_relay(otlp: OtlpReceiver, trace_id: str, parent: str, event_id: str) -> bool:
    return any(
        s.service == RELAY
        and s.parent_span_id == parent
        and s.attributes.get("messaging.message.id") == event_id
        for s in otlp.trace(trace_id)
    )


def _processed_by_mailer(otlp: OtlpReceiver, trace_id: str, parent: str) -> bool:
    return any(
        s.service == MAILER and s.kind == "consumer" and s.parent_span_id == parent
        for s in otlp.trace(trace_id)
    )


def _assert_relay_spans(
    otlp: OtlpReceiver, deployment: Deployment, *, trace_id: str, parent: str, event_id: str
) -> None:
    [send] = [
        s
        for s in otlp.trace(trace_id)
        if s.service == RELAY and s.attributes.get("messaging.message.id") == event_id
    ]
    assert send.parent_span_id == parent
    assert send.kind == "producer"
    assert send.name == f"send {deployment.topic}"
    assert send.attributes["messaging.system"] == "kafka"
    assert send.attributes["messaging.operation.type"] == "send"
    assert send.attributes["messaging.destination.name"] == deployment.topic
    assert send.attributes["messaging.kafka.message.key"]
    assert not send.error
    # Its batch's span links to the creation context of every message in it, this one included.
    [(_, batch_span_id)] = send.links
    # The batch span ends after its messages' spans, so it may come in a later export.
    wait_until(
        lambda: any(s.span_id == batch_span_id for s in otlp.received()), timeout=WAIT_SECONDS
    )
    batch = _one(otlp.received(), service=RELAY, span_id=batch_span_id)
    assert (trace_id, parent) in batch.links
    assert batch.attributes["messaging.batch.message_count"] >= 1


def test_a_new_task_is_one_trace_from_the_request_through_the_relay_to_the_mailer(
    traced: Deployment, otlp: OtlpReceiver
) -> None:
    with httpx.Client(base_url=traced.api_url, timeout=30) as client:
        _, _, auth = _signed_up(client)
        # A client's own trace context is not trusted: the trace starts at the API.
        forged = {"traceparent": f"00-{'1' * 32}-{'2' * 16}-01", "tracestate": "evil=1"}
        reply = client.post("/tasks", json={"title": "Trace me"}, headers=auth | forged)
        assert reply.status_code == 201, reply.text
    task_id = reply.json()["id"]
    event_id, headers = _outbox_row(traced, "payload->>'task_id' = :task", task=task_id)
    trace_id, request_span_id = _creation_context(headers)
    assert trace_id != "1" * 32
    assert "tracestate" not in headers

    wait_until(
        lambda: (
            _processed_by_mailer(otlp, trace_id, request_span_id)
            and _sent_by_relay(otlp, trace_id, request_span_id, event_id)
        ),
        timeout=WAIT_SECONDS,
    )

    spans = otlp.trace(trace_id)
    request = _one(spans, span_id=request_span_id)
    assert (request.service, request.kind, request.name) == (API, "server", "POST /tasks")
    assert request.parent_span_id == ""  # the trace starts at the request
    # The one-statement create, as the SQLAlchemy instrumentation reports it, in the request.
    statements = [s for s in spans if s.service == API and s.kind == "client"]
    assert statements
    assert all(s.parent_span_id == request_span_id for s in statements)
    _assert_relay_spans(otlp, traced, trace_id=trace_id, parent=request_span_id, event_id=event_id)
    process = _one(spans, service=MAILER, kind="consumer")
    assert process.name == f"process {traced.topic}"
    assert process.parent_span_id == request_span_id
    assert (trace_id, request_span_id) in process.links
    assert process.attributes["messaging.operation.type"] == "process"
    assert process.attributes["messaging.message.id"] == event_id
    assert process.attributes["mailer.outcome"] == "ignored"  # not a digest

    # The record carries the context stored with the row, once, not a relay span's own.
    records = asyncio.run(topic_records(traced.kafka_servers, traced.topic))
    [record] = [r for r in records if str(r["event_id"]) == event_id]
    assert record["header_names"].count("traceparent") == 1
    assert record["headers"]["traceparent"] == headers["traceparent"]


def test_a_digest_is_one_trace_from_the_scheduler_run_to_the_smtp_send(
    traced: Deployment, otlp: OtlpReceiver
) -> None:
    today = datetime.now(UTC).date()
    with httpx.Client(base_url=traced.api_url, timeout=30) as client:
        user_id, email, auth = _signed_up(client)
        reply = client.post("/tasks", json={"title": "Read the trace"}, headers=auth)
        assert reply.status_code == 201, reply.text

    assert traced.run_digest(today.isoformat()) == 0
    event_id = str(DailyDigestRequested.id_for(user_id, today))
    _, headers = _outbox_row(traced, "event_id = CAST(:event AS uuid)", event=event_id)
    trace_id, run_span_id = _creation_context(headers)

    def smtp_sent_and_processed() -> bool:
        # The SMTP span ends (and may be exported) before its parent, the process span: wait
        # for both, since the exporter can send them in different batches.
        spans = otlp.trace(trace_id)
        return any(s.name == "smtp send" for s in spans) and any(
            s.service == MAILER and s.attributes.get("messaging.message.id") == event_id
            for s in spans
        )

    wait_until(
        lambda: smtp_sent_and_processed() and _sent_by_relay(otlp, trace_id, run_span_id, event_id),
        timeout=WAIT_SECONDS,
    )
    wait_until(lambda: any(email in m.rcpt_tos for m in traced.smtp.messages), timeout=10)

    spans = otlp.trace(trace_id)
    run = _one(spans, span_id=run_span_id)
    assert (run.service, run.name, run.parent_span_id) == (SCHEDULER, "digest run", "")
    assert any(s.service == SCHEDULER and s.parent_span_id == run_span_id for s in spans)
    _assert_relay_spans(otlp, traced, trace_id=trace_id, parent=run_span_id, event_id=event_id)
    # The run wrote every user's digest: this user's is one of the mailer's process spans.
    [process] = [
        s
        for s in spans
        if s.service == MAILER and s.attributes.get("messaging.message.id") == event_id
    ]
    assert process.kind == "consumer"
    assert process.parent_span_id == run_span_id
    assert process.attributes["mailer.outcome"] == "sent"
    sends = [s for s in spans if s.name == "smtp send" and s.parent_span_id == process.span_id]
    assert len(sends) == 1
    assert (sends[0].service, sends[0].kind) == (MAILER, "client")
    assert sends[0].attributes["server.port"] == traced.smtp.port
