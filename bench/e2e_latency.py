"""End-to-end latency: from the HTTP response of `POST /tasks` to its `task.created` on Kafka.

One client posts tasks one after another at a steady pace while a consumer, positioned at the end
of the topic before the first request, stamps each event as it arrives; both use one clock.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import suppress

import httpx
from aiokafka import AIOKafkaConsumer

from bench.stats import percentile


async def _consume(
    consumer: AIOKafkaConsumer, arrived: dict[str, float], expected: set[str], done: asyncio.Event
) -> None:
    while True:
        batch = await consumer.getmany(timeout_ms=100)
        now = time.perf_counter()
        for messages in batch.values():
            for message in messages:
                value = json.loads(message.value)
                if value.get("type") == "task.created":
                    arrived.setdefault(value["task_id"], now)
        if expected and expected <= arrived.keys():
            done.set()


async def _measure(
    *, api_url: str, token: str, servers: str, topic: str, seconds: float, pace: float
) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers,
        group_id=None,
        auto_offset_reset="latest",
        isolation_level="read_committed",
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    arrived: dict[str, float] = {}
    sent: dict[str, tuple[float, float]] = {}  # task id -> (request sent, response received)
    try:
        while not consumer.assignment():  # every partition, once the topic's metadata is in
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.position(tp)  # resolve "latest" before the first request
        expected: set[str] = set()
        all_arrived = asyncio.Event()
        reader = asyncio.create_task(_consume(consumer, arrived, expected, all_arrived))
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=10) as client:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                started = time.perf_counter()
                reply = await client.post("/tasks", json={"title": "e2e latency probe"})
                answered = time.perf_counter()
                reply.raise_for_status()
                sent[reply.json()["id"]] = (started, answered)
                await asyncio.sleep(max(0.0, pace - (answered - started)))
        expected.update(sent)
        with suppress(TimeoutError):
            await asyncio.wait_for(all_arrived.wait(), timeout=10)
        reader.cancel()
    finally:
        await consumer.stop()
    from_response = [(arrived[t] - a) * 1000 for t, (_, a) in sent.items() if t in arrived]
    from_request = [(arrived[t] - s) * 1000 for t, (s, _) in sent.items() if t in arrived]
    return {
        "samples": len(sent),
        "missing": len(set(sent) - set(arrived)),
        "p50_ms": round(percentile(from_response, 50), 2),
        "p99_ms": round(percentile(from_response, 99), 2),
        "max_ms": round(max(from_response, default=float("nan")), 2),
        "from_request_p50_ms": round(percentile(from_request, 50), 2),
        "from_request_p99_ms": round(percentile(from_request, 99), 2),
    }


def measure(
    *, api_url: str, token: str, servers: str, topic: str, seconds: float, pace: float = 0.02
) -> dict[str, float]:
    """Post a task every `pace` s (or as fast as answered) for `seconds`; percentiles in ms."""
    return asyncio.run(
        _measure(
            api_url=api_url, token=token, servers=servers, topic=topic, seconds=seconds, pace=pace
        )
    )
