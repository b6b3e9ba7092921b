"""Every record is a CloudEvent in binary content mode: the `cloudevents` SDK's Kafka binding
reads real records, written by every path that writes the outbox, and finds the event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from asgi_lifespan import LifespanManager
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from app.api.main import create_app
from app.core.events import decode_event
from app.settings import ApiSettings
from relay.forwarder import Forwarder
from relay.publisher import KafkaPublisher
from scheduler.digest import DigestOptions, run_digest
from tests.integration.relay.conftest import Harness, Received, has_all

pytestmark = pytest.mark.integration


async def _write_through_every_path(relay: Harness) -> None:
    """A registration and task changes (unit of work), a new task (the one-statement create)
    and a digest (the scheduler's page insert)."""
    settings = ApiSettings(
        database_url=relay.settings.sqlalchemy_url, argon2_memory_kib=8 * 1024, argon2_time_cost=1
    )
    app = create_app(settings)
    transport = ASGITransport(app=app)
    async with LifespanManager(app), AsyncClient(transport=transport, base_url="http://t") as api:
        body = {"email": f"ce-{uuid.uuid4().hex[:8]}@example.com", "password": "a long password"}
        assert (await api.post("/auth/register", json=body)).status_code == 201
        token = (await api.post("/auth/login", json=body)).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        task = (await api.post("/tasks", json={"title": "a CloudEvent"}, headers=auth)).json()
        done = await api.patch(f"/tasks/{task['id']}", json={"done": True}, headers=auth)
        assert done.is_success
    await run_digest(
        session_factory=relay.session_factory,
        day=datetime.now(UTC).date(),
        options=DigestOptions(topic=relay.topic),
    )


async def test_every_record_decodes_as_a_cloudevent_whose_data_is_the_exact_event(
    relay: Harness,
) -> None:
    await _write_through_every_path(relay)
    async with relay.engine.begin() as conn:
        await conn.execute(text("UPDATE outbox SET topic = :t"), {"t": relay.topic})
        query = text("SELECT event_id::text AS event_id, payload::text AS payload FROM outbox")
        rows = (await conn.execute(query)).all()
    types = {decode_event(payload).type for _, payload in rows}
    assert types == {
        "user.registered",
        "task.created",
        "task.completed",
        "email.daily_digest.requested",
    }
    publisher = KafkaPublisher(relay.settings)
    try:
        assert await Forwarder(relay.store, publisher, relay.settings).run_once() == len(rows)
    finally:
        await publisher.stop()

    received = await relay.consume(until=has_all({event_id for event_id, _ in rows}))
    stored: dict[str, str] = {row.event_id: row.payload for row in rows}
    for record in received:
        _assert_a_cloudevent(record, stored[record.event_id])


def _assert_a_cloudevent(record: Received, stored_json: str) -> None:
    event = decode_event(record.value)
    cloud = from_binary_event(
        KafkaMessage(headers=record.headers, key=record.key, value=record.value)
    )
    assert cloud.get_specversion() == "1.0"
    assert cloud.get_id() == str(event.event_id)
    assert cloud.get_type() == event.type
    assert cloud.get_source() == "/eventful-todo"
    assert cloud.get_time() == event.occurred_at
    task_id = getattr(event, "task_id", None)
    expected_subject = f"tasks/{task_id}" if task_id else f"users/{event.user_id}"
    assert cloud.get_subject() == expected_subject
    assert cloud.get_datacontenttype() == "application/json"
    assert cloud.get_extension("partitionkey") == str(event.user_id)
    # The value stays the event's JSON, byte for byte as the outbox stored it.
    assert record.value == stored_json.encode()
    assert cloud.get_data() == json.loads(stored_json)
