"""Kafka fences a paused relay: its open transaction is aborted, its later sends refused, and a
read_committed reader sees only the new owner's records, in order."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from relay.publisher import Ack, KafkaPublisher, Message, ProducerFencedError
from tests.integration.relay.conftest import Harness, consume

pytestmark = pytest.mark.integration


def message(topic: str, key: str, n: int) -> Message:
    return Message(
        topic=topic,
        key=key.encode(),
        value=f"{n}".encode(),
        headers=[("event_id", f"{n}".encode())],
    )


async def test_a_zombies_open_transaction_is_aborted_and_its_late_commit_refused(
    relay: Harness,
) -> None:
    zombie_id, key = f"test-zombie-{uuid.uuid4().hex}", "user-1"
    heir = KafkaPublisher(relay.settings)
    await heir.ensure_ready()  # creates the topic
    zombie = AIOKafkaProducer(
        bootstrap_servers=relay.kafka_servers, transactional_id=zombie_id, enable_idempotence=True
    )
    await zombie.start()
    try:
        await zombie.begin_transaction()
        for _n in (1, 2, 3):  # sent and acknowledged, not committed: then the relay froze
            await (await zombie.send(relay.topic, b"zombie", key=key.encode()))

        await heir.fence(zombie_id)
        outcomes = await heir.publish([message(relay.topic, key, n) for n in (1, 2, 3, 4)])
        assert all(isinstance(outcome, Ack) for outcome in outcomes), outcomes

        with pytest.raises(KafkaError):  # resumed: its commit is refused
            await zombie.commit_transaction()
    finally:
        await zombie.stop()
        await heir.stop()

    received = await relay.consume(until=lambda r: len(r) >= 4)
    assert [(r.key, r.value) for r in received] == [(key, f"{n}".encode()) for n in (1, 2, 3, 4)]


async def test_a_fenced_publisher_raises_instead_of_publishing(relay: Harness) -> None:
    zombie = KafkaPublisher(relay.settings)
    heir = KafkaPublisher(relay.settings)
    try:
        [outcome] = await zombie.publish([message(relay.topic, "k", 1)])
        assert isinstance(outcome, Ack), outcome
        await heir.fence(zombie.transactional_id)
        with pytest.raises(ProducerFencedError):
            await zombie.publish([message(relay.topic, "k", 2)])
    finally:
        await zombie.stop()
        await heir.stop()
    received = await consume(
        relay.kafka_servers, relay.topic, until=lambda r: len(r) > 1, seconds=5
    )
    assert [r.value for r in received] == [b"1"]
