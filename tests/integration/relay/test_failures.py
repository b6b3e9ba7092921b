"""Rejected rows are parked without blocking others; an outage marks nothing and heals itself."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from relay.forwarder import Forwarder
from relay.publisher import BrokerUnavailableError, KafkaPublisher
from tests.integration.relay.conftest import Harness, has_all, poll
from tests.unit.relay.fakes import FakePublisher

pytestmark = pytest.mark.integration


def parked_total(forwarder: Forwarder) -> float:
    return forwarder.metrics.registry.get_sample_value("relay_parked_events_total") or 0.0


async def outbox_state(engine: AsyncEngine, event_id: uuid.UUID) -> tuple[int, bool, bool, str]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT attempts, parked_at IS NOT NULL, published_at IS NOT NULL,"
                    " coalesce(last_error, '') FROM outbox WHERE event_id = :id"
                ),
                {"id": event_id},
            )
        ).one()
    return row[0], row[1], row[2], row[3]


async def test_a_rejected_row_is_parked_after_max_attempts_and_never_blocks_the_rest(
    relay: Harness,
) -> None:
    settings = relay.settings.model_copy(update={"relay_max_attempts": 3})
    poison_user, other_user = uuid.uuid4(), uuid.uuid4()
    [poison] = await relay.write(users=[poison_user], per_key=1)
    others = await relay.write(users=[other_user], per_key=5)
    publisher = FakePublisher()
    publisher.reject_keys.add(str(poison_user).encode())
    forwarder = Forwarder(relay.store, publisher, settings)
    before = parked_total(forwarder)

    assert await forwarder.run_once() == 5
    assert publisher.event_ids() == [str(e.event_id) for e in others]
    assert await outbox_state(relay.engine, poison.event_id) == (
        1,
        False,
        False,
        "MessageSizeTooLargeError: too big",
    )
    assert await forwarder.run_once() == 0
    assert await forwarder.run_once() == 0
    attempts, parked, published, error = await outbox_state(relay.engine, poison.event_id)
    assert (attempts, parked, published) == (3, True, False)
    assert "MessageSizeTooLarge" in error
    assert parked_total(forwarder) == before + 1

    publisher.reject_keys.clear()
    later = await relay.write(users=[poison_user], per_key=2)
    assert await forwarder.run_once() == 2  # the parked row is not retried; its key goes on
    assert publisher.event_ids()[-2:] == [str(e.event_id) for e in later]


async def test_an_unavailable_broker_gets_nothing_claimed_or_marked(relay: Harness) -> None:
    events = await relay.write(users=[uuid.uuid4()], per_key=3)
    publisher = FakePublisher()
    publisher.down = True
    forwarder = Forwarder(relay.store, publisher, relay.settings)

    with pytest.raises(BrokerUnavailableError):
        await forwarder.run_once()
    assert await relay.unpublished() == 3
    assert await outbox_state(relay.engine, events[0].event_id) == (0, False, False, "")


async def test_the_run_loop_rides_out_an_outage_and_recovers_by_itself(relay: Harness) -> None:
    events = await relay.write(users=[uuid.uuid4(), uuid.uuid4()], per_key=10)
    publisher = FakePublisher()
    publisher.down = True
    wakeup, stop = asyncio.Event(), asyncio.Event()
    forwarder = Forwarder(relay.store, publisher, relay.settings)
    running = asyncio.create_task(forwarder.run(wakeup=wakeup, stop=stop))
    registry = forwarder.metrics.registry
    errors_before = registry.get_sample_value("relay_errors_total", {"kind": "broker"}) or 0.0

    async def failed_a_few_times() -> bool:
        errors = registry.get_sample_value("relay_errors_total", {"kind": "broker"}) or 0.0
        return errors >= errors_before + 3

    try:
        assert await poll(failed_a_few_times, seconds=10)
        assert await relay.unpublished() == len(events)
        assert not running.done(), "an outage must never end the loop"
        publisher.down = False

        async def drained() -> bool:
            return await relay.unpublished() == 0

        assert await poll(drained, seconds=10)
        assert publisher.event_ids() == [str(e.event_id) for e in events]
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


async def test_an_oversized_event_is_parked_by_the_real_broker_client_and_others_flow(
    relay: Harness,
) -> None:
    settings = relay.settings.model_copy(
        update={"relay_max_attempts": 2, "relay_max_request_size": 4096}
    )
    big_user, small_users = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    before = await relay.write(users=small_users, per_key=3)
    [big] = await relay.write(users=[big_user], per_key=1, title="x" * 8000)
    after = await relay.write(users=small_users, per_key=3)
    publisher = KafkaPublisher(settings)
    forwarder = Forwarder(relay.store, publisher, settings)
    try:
        assert await forwarder.run_once() == len(before) + len(after)
        assert await forwarder.run_once() == 0
    finally:
        await publisher.stop()

    attempts, parked, published, error = await outbox_state(relay.engine, big.event_id)
    assert (attempts, parked, published) == (2, True, False)
    assert "MessageSizeTooLargeError" in error
    small_ids = {str(e.event_id) for e in before + after}
    received = await relay.consume(until=has_all(small_ids))
    assert {r.event_id for r in received} == small_ids


async def test_a_topic_size_limit_rejection_from_the_broker_parks_only_the_big_event(
    relay: Harness,
) -> None:
    small_topic = f"test-small-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=relay.kafka_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(small_topic, 1, 1, topic_configs={"max.message.bytes": "3000"})]
        )
        settings = relay.settings.model_copy(update={"relay_max_attempts": 2})
        user = uuid.uuid4()
        before = await relay.write(users=[user], per_key=3, topic=small_topic)
        [big] = await relay.write(users=[user], per_key=1, topic=small_topic, title="x" * 8000)
        after = await relay.write(users=[user], per_key=3, topic=small_topic)
        publisher = KafkaPublisher(settings)
        forwarder = Forwarder(relay.store, publisher, settings)
        try:
            for _ in range(10):
                if (
                    await relay.unpublished() == 1
                    and (await outbox_state(relay.engine, big.event_id))[1]
                ):
                    break
                with contextlib.suppress(BrokerUnavailableError):
                    await forwarder.run_once()
        finally:
            await publisher.stop()
        attempts, parked, published, error = await outbox_state(relay.engine, big.event_id)
        assert (attempts, parked, published) == (2, True, False), error
        small_ids = {str(e.event_id) for e in before + after}
        received = await relay.consume(until=has_all(small_ids), topic=small_topic)
        assert small_ids <= {r.event_id for r in received}
    finally:
        await admin.delete_topics([small_topic])
        await admin.close()
