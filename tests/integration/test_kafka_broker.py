"""The real broker does what the pipeline relies on: idempotent acks=all, per-key order, commits."""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

pytestmark = pytest.mark.integration

KEYS = [f"user-{i}" for i in range(5)]
PER_KEY = 40


async def _consume(servers: str, topic: str, group: str, expected: int) -> list[tuple[str, int]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: list[tuple[str, int]] = []
    try:
        while len(seen) < expected:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    assert record.key is not None
                    assert record.value is not None
                    seen.append((record.key.decode(), int(record.value)))
        await consumer.commit()
    finally:
        await consumer.stop()
    return seen


async def test_keyed_messages_arrive_in_per_key_order_and_commits_hold(
    kafka_servers: str, topic: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_servers, enable_idempotence=True)
    await producer.start()
    try:
        sends = [
            await producer.send(topic, key=key.encode(), value=str(n).encode())
            for n in range(PER_KEY)
            for key in KEYS
        ]
        metadata = [await s for s in sends]
    finally:
        await producer.stop()
    assert all(m.offset >= 0 for m in metadata)

    group = f"g-{uuid.uuid4().hex[:8]}"
    seen = await _consume(kafka_servers, topic, group, len(KEYS) * PER_KEY)
    by_key: dict[str, list[int]] = defaultdict(list)
    for key, n in seen:
        by_key[key].append(n)
    assert by_key == {key: list(range(PER_KEY)) for key in KEYS}

    again = await _consume(kafka_servers, topic, group, 1)
    assert again == [], "committed messages were delivered again after a restart"


async def test_an_idempotent_producer_acks_from_all_in_sync_replicas(
    kafka_servers: str, topic: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_servers, enable_idempotence=True)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, key=b"k", value=b"v")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_servers)
    await consumer.start()
    try:
        tp = TopicPartition(topic, meta.partition)
        end = await consumer.end_offsets([tp])
    finally:
        await consumer.stop()
    assert end[tp] == meta.offset + 1
