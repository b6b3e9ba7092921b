"""Events written by real API requests reach Kafka with their key, stored bytes and headers."""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from app.api.main import create_app
from app.core.events import decode_event
from app.settings import ApiSettings
from relay.forwarder import Forwarder
from relay.publisher import KafkaPublisher
from tests.integration.relay.conftest import Harness, first_seen_order, has_all

pytestmark = pytest.mark.integration


async def test_api_writes_arrive_on_kafka_in_per_user_order(relay: Harness) -> None:
    settings = ApiSettings(
        database_url=relay.settings.sqlalchemy_url,
        argon2_memory_kib=8 * 1024,
        argon2_time_cost=1,
    )
    app = create_app(settings)
    transport = ASGITransport(app=app)
    async with LifespanManager(app), AsyncClient(transport=transport, base_url="http://t") as api:
        for n in range(2):
            email = f"relay-{n}-{uuid.uuid4().hex[:8]}@example.com"
            body = {"email": email, "password": "a long password"}
            assert (await api.post("/auth/register", json=body)).status_code == 201
            token = (await api.post("/auth/login", json=body)).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            for title in ("buy milk", "walk the dog"):
                task = (await api.post("/tasks", json={"title": title}, headers=auth)).json()
                done = {"done": True}
                assert (await api.patch(f"/tasks/{task['id']}", json=done, headers=auth)).is_success
            assert (await api.delete(f"/tasks/{task['id']}", headers=auth)).status_code == 204

    async with relay.engine.begin() as conn:
        # The API writes to the `events` topic; this test reads its own topic instead.
        await conn.execute(text("UPDATE outbox SET topic = :t"), {"t": relay.topic})
        rows = (
            await conn.execute(
                text("SELECT event_id::text, key, payload::text FROM outbox ORDER BY id")
            )
        ).all()
    assert len(rows) == 2 * (1 + 2 * 2 + 1)  # registered, 2 x (created, completed), deleted
    publisher = KafkaPublisher(relay.settings)
    try:
        assert await Forwarder(relay.store, publisher, relay.settings).run_once() == len(rows)
    finally:
        await publisher.stop()

    received = await relay.consume(until=has_all({row[0] for row in rows}))
    stored = {event_id: (key, value) for event_id, key, value in rows}
    expected: dict[str, list[str]] = defaultdict(list)
    for event_id, key, _ in rows:
        expected[key].append(event_id)
    assert first_seen_order(received) == dict(expected)
    for r in received:
        key, value = stored[r.event_id]
        assert (r.key, r.value) == (key, value.encode())
        assert r.headers["event_type"] == decode_event(r.value).type.encode()
    types = [decode_event(r.value).type for r in received if r.key == received[0].key]
    assert types[0] == "user.registered"
    assert types[-1] == "task.deleted"
