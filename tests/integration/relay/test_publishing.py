"""Committed outbox rows reach Kafka as stored, in per-key order, and are marked published."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import text

from app.core.events import TaskCreated, decode_event
from app.core.outbox import append_to_outbox
from relay.forwarder import Forwarder
from relay.publisher import Ack, Failure, KafkaPublisher, Message
from relay.settings import RelaySettings
from relay.wakeup import NotifyListener
from tests.integration.relay.conftest import Harness, first_seen_order, has_all, poll, written_order

pytestmark = pytest.mark.integration

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SET_TRACEPARENT = text(
    "UPDATE outbox SET headers = jsonb_build_object('traceparent', CAST(:tp AS text)) WHERE id = 1"
)


@pytest.fixture
async def forwarder(relay: Harness) -> AsyncIterator[Forwarder]:
    publisher = KafkaPublisher(relay.settings)
    yield Forwarder(relay.store, publisher, relay.settings)
    await publisher.stop()


@contextlib.asynccontextmanager
async def running(forwarder: Forwarder, settings: RelaySettings) -> AsyncIterator[asyncio.Event]:
    """The forwarder's loop woken by a real LISTEN, as the service runs them; yields the wake-up."""
    wakeup, stop = asyncio.Event(), asyncio.Event()
    listener = NotifyListener(settings.libpq_conninfo, wakeup, backoff_max=1)
    listening = asyncio.create_task(listener.run())
    loop = asyncio.create_task(forwarder.run(wakeup=wakeup, stop=stop))
    try:
        yield wakeup
    finally:
        stop.set()
        await loop
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)


async def drain(forwarder: Forwarder) -> int:
    total = 0
    while (published := await forwarder.run_once()) > 0:
        total += published
    return total


async def test_every_committed_event_arrives_with_its_stored_bytes_headers_and_key_order(
    relay: Harness, forwarder: Forwarder
) -> None:
    events = await relay.write(users=[uuid.uuid4() for _ in range(4)], per_key=60)
    async with relay.engine.begin() as conn:
        await conn.execute(SET_TRACEPARENT, {"tp": TRACEPARENT})
        query = text("SELECT event_id::text, payload::text FROM outbox")
        stored: dict[str, str] = dict((await conn.execute(query)).all())

    assert await drain(forwarder) == len(events)

    received = await relay.consume(until=has_all(set(stored)))
    assert len(received) == len(events)
    assert first_seen_order(received) == written_order(events)
    for r in received:
        assert r.value == stored[r.event_id].encode()  # byte for byte, never re-serialised
        event = decode_event(r.value)
        assert r.key == str(event.user_id)
        assert r.headers["event_type"] == event.type.encode()
        assert r.headers["content-type"] == b"application/json"
    [traced] = [r for r in received if r.event_id == str(events[0].event_id)]
    assert traced.headers["traceparent"] == TRACEPARENT.encode()
    assert await relay.unpublished() == 0


async def test_a_row_committed_after_a_later_id_is_still_published(
    relay: Harness, forwarder: Forwarder
) -> None:
    early, late = (TaskCreated(user_id=uuid.uuid4(), task_id=uuid.uuid4(), title=t) for t in "el")
    async with relay.session_factory() as first, first.begin():
        await append_to_outbox(first, [early], topic=relay.topic)  # lower id, committed last
        async with relay.session_factory() as second, second.begin():
            await append_to_outbox(second, [late], topic=relay.topic)
        assert await forwarder.run_once() == 1
    assert await forwarder.run_once() == 1

    ids = {str(early.event_id), str(late.event_id)}
    received = await relay.consume(until=has_all(ids))
    assert {r.event_id for r in received} == ids
    assert await relay.unpublished() == 0


async def test_a_notify_wakes_the_relay_long_before_the_fallback_poll(
    relay: Harness, forwarder: Forwarder
) -> None:
    assert relay.settings.relay_poll_interval_seconds == 30.0
    async with running(forwarder, relay.settings) as wakeup:

        async def idle() -> bool:
            return not wakeup.is_set()

        assert await poll(idle, seconds=10)
        await relay.write(users=[uuid.uuid4()], per_key=1)
        # Generous, yet far below the 30 s poll: only the NOTIFY can have woken it.
        assert await poll(relay.all_published, seconds=10)


class CountingPublisher(KafkaPublisher):
    """The real publisher, recording how many messages each claimed batch sent."""

    def __init__(self, settings: RelaySettings) -> None:
        super().__init__(settings)
        self.batches: list[int] = []

    async def publish(self, messages: Sequence[Message]) -> list[Ack | Failure]:
        self.batches.append(len(messages))
        return await super().publish(messages)


async def test_under_a_stream_of_commits_one_claim_takes_the_writes_of_the_claim_interval(
    relay: Harness,
) -> None:
    settings = relay.settings.model_copy(update={"relay_claim_interval_ms": 1000})
    publisher = CountingPublisher(settings)
    forwarder = Forwarder(relay.store, publisher, settings)
    try:
        async with running(forwarder, settings):
            await relay.write(users=[uuid.uuid4()], per_key=1)
            assert await poll(relay.all_published, seconds=10)
            # Within the interval of that claim: ten commits, each with its own NOTIFY.
            await relay.write(users=[uuid.uuid4()], per_key=10)
            assert await poll(relay.all_published, seconds=10)
    finally:
        await publisher.stop()

    assert publisher.batches[0] == 1
    # Without the interval each NOTIFY would start a claim of its own: up to ten batches.
    assert sum(publisher.batches[1:]) == 10
    assert len(publisher.batches[1:]) <= 2, publisher.batches
