"""Fixtures for the mailer against real Kafka, real PostgreSQL and an in-process SMTP server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.events import DailyDigestRequested
from app.core.models import ProcessedEvent
from mailer.bootstrap import run_mailer
from mailer.settings import MailerSettings
from tests.support.smtp import RecordingHandler, SmtpSink


async def eventually[T](
    probe: Callable[[], Awaitable[T]], *, within: float = 30.0, interval: float = 0.05
) -> T:
    """Poll until the probe returns something truthy, or fail with its last answer."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within}s; last value: {result!r}")
        await asyncio.sleep(interval)


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink(RecordingHandler())
    sink.start()
    yield sink
    sink.handler.release.set()
    sink.stop()


@pytest.fixture
async def dlq_topic(topic: str, kafka_servers: str) -> AsyncIterator[str]:
    """The dead-letter topic the mailer creates for this test; deleted afterwards."""
    name = f"{topic}.dlq"
    yield name
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_servers)
    await admin.start()
    try:
        await admin.delete_topics([name])
    finally:
        await admin.close()


@pytest.fixture
def settings(
    database_url: str, kafka_servers: str, topic: str, dlq_topic: str, smtp: SmtpSink
) -> MailerSettings:
    return MailerSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_servers,
        kafka_topic=topic,
        kafka_dlq_topic=dlq_topic,
        mailer_group_id=f"mailer-{uuid.uuid4().hex[:8]}",
        mailer_commit_interval_seconds=0.1,
        mailer_health_port=0,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_pool_size=4,
        smtp_timeout_seconds=10,
        smtp_retry_initial_seconds=0.05,
        smtp_retry_max_seconds=0.3,
        db_retry_initial_seconds=0.05,
        db_retry_max_seconds=0.5,
        mail_from="Eventful TODO <digest@eventful-todo.test>",
        log_json=False,
    )


@dataclass
class RunningMailer:
    stop: asyncio.Event
    task: asyncio.Task[None]
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def finished(self) -> float:
        """Messages handled to the end, whatever the outcome."""
        outcomes = ("sent", "duplicate", "ignored", "dead_lettered")
        return sum(self.metric("mailer_messages_total", outcome=o) for o in outcomes)


@asynccontextmanager
async def running(settings: MailerSettings) -> AsyncIterator[RunningMailer]:
    """A mailer in this event loop; stopped (drain + commit) on exit."""
    stop = asyncio.Event()
    registry = CollectorRegistry()
    task = asyncio.create_task(run_mailer(settings, stop=stop, registry=registry))
    mailer = RunningMailer(stop=stop, task=task, registry=registry)
    try:
        yield mailer
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)


@pytest.fixture
async def producer(kafka_servers: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_servers, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def publish(
    producer: AIOKafkaProducer,
    topic: str,
    event: DailyDigestRequested | None = None,
    *,
    value: bytes | None = None,
    key: bytes | None = None,
    partition: int | None = None,
) -> int:
    """Send like the relay does (JSON value keyed by user id); returns the record's offset."""
    if event is not None:
        value = event.model_dump_json().encode()
        key = event.key.encode()
    headers = [("event_type", event.type.encode())] if event is not None else []
    metadata = await producer.send_and_wait(
        topic, value=value, key=key, partition=partition, headers=headers
    )
    return int(metadata.offset)


async def committed_offsets(kafka_servers: str, group: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def read_all(
    kafka_servers: str, topic: str, *, count: int, partitions: int = 1
) -> list[ConsumerRecord]:
    """The first `count` records of a topic, waiting for them to arrive."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_servers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + 30
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def processed_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(ProcessedEvent)) or 0)
