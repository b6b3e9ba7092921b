"""The Kafka ceiling: what one idempotent aiokafka producer (acks=all) does on this machine.

Throughput with many sends in flight (the relay's best case: a whole batch awaited at once) and
the round trip of one send awaited alone (the floor under our commit-to-Kafka latency).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.stats import percentile

KEYS = [str(uuid.uuid4()).encode() for _ in range(100)]


def _event(i: int) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "type": "task.created",
            "occurred_at": "2026-01-01T00:00:00+00:00",
            "user_id": KEYS[i % len(KEYS)].decode(),
            "task_id": str(uuid.uuid4()),
            "title": f"bench task {i}",
        }
    ).encode()


async def _measure(servers: str, seconds: float, batch: int) -> dict[str, float]:
    topic = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    producer = AIOKafkaProducer(bootstrap_servers=servers, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, _event(0), key=KEYS[0])  # metadata, connections
        sent, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            futures = [
                await producer.send(topic, _event(sent + i), key=KEYS[(sent + i) % len(KEYS)])
                for i in range(batch)
            ]
            await asyncio.gather(*futures)
            sent += batch
        throughput = sent / (time.perf_counter() - start)
        round_trips: list[float] = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds / 2:
            t0 = time.perf_counter()
            await producer.send_and_wait(topic, _event(0), key=KEYS[0])
            round_trips.append((time.perf_counter() - t0) * 1000)
    finally:
        await producer.stop()
        await admin.delete_topics([topic])
        await admin.close()
    return {
        "batch": batch,
        "msgs_per_s": round(throughput, 1),
        "send_p50_ms": round(percentile(round_trips, 50), 2),
        "send_p99_ms": round(percentile(round_trips, 99), 2),
    }


def measure(servers: str, seconds: float = 5.0, batch: int = 500) -> dict[str, float]:
    return asyncio.run(_measure(servers, seconds, batch))


if __name__ == "__main__":
    print(measure(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")))
