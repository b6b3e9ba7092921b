"""Read a whole Kafka topic, as the tests compare it with what PostgreSQL committed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from app.core.envelope import EVENT_ID_HEADER


async def topic_records(servers: str, topic: str, within: float = 30.0) -> list[dict[str, Any]]:
    """Every record on `topic` from the beginning up to its end at the time of the call."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + within
        while not consumer.assignment():  # every partition, once the topic's metadata is in
            if time.monotonic() > deadline:
                msg = f"topic {topic} not found within {within} s"
                raise LookupError(msg)
            await consumer.getmany(timeout_ms=100)
        tps = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[dict[str, Any]] = []
        while await _behind(consumer, ends):
            if time.monotonic() > deadline:
                msg = f"could not read {topic} to its end within {within} s"
                raise TimeoutError(msg)
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records += [_record(m) for m in messages]
        return records
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, ends: Mapping[Any, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def _record(message: Any) -> dict[str, Any]:
    headers = {k: v.decode() for k, v in (message.headers or [])}
    value = json.loads(message.value) if message.value else {}
    return {
        "partition": message.partition,
        "offset": message.offset,
        "key": message.key.decode() if message.key else None,
        "headers": headers,
        "header_names": [k for k, _ in message.headers or []],  # in order, repeats kept
        "value": value,
        "event_id": uuid.UUID(value.get("event_id") or headers[EVENT_ID_HEADER]),
    }


async def delete_topics(servers: str, names: list[str]) -> None:
    """Delete those of `names` that exist (a run's own topics, when it is done)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if doomed := [n for n in names if n in existing]:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
