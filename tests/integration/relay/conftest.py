"""Relay fixtures: settings aimed at the test's topic, outbox writers and a Kafka reader."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.events import TaskCreated
from app.core.outbox import append_to_outbox
from relay.settings import RelaySettings
from relay.store import PostgresOutboxStore


@pytest.fixture
def relay_settings(database_url: str, kafka_servers: str, topic: str) -> RelaySettings:
    """Fast-failing settings with short leases and no HTTP port."""
    return RelaySettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_servers,
        kafka_topic=topic,
        relay_batch_size=200,
        relay_poll_interval_seconds=30.0,
        relay_publish_timeout_seconds=5.0,
        relay_backoff_initial_seconds=0.05,
        relay_backoff_max_seconds=0.5,
        relay_lease_seconds=2.0,
        relay_heartbeat_seconds=0.2,
        relay_metrics_port=0,
        log_json=False,
    )


@dataclass(frozen=True)
class Harness:
    """What a relay test needs: a clean database, settings aimed at its own topic, Kafka."""

    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    settings: RelaySettings
    kafka_servers: str
    topic: str

    @property
    def store(self) -> PostgresOutboxStore:
        """The relay's store on this database, unfenced."""
        return PostgresOutboxStore(self.engine)

    async def write(
        self,
        *,
        users: Sequence[uuid.UUID],
        per_key: int,
        topic: str | None = None,
        title: str = "t",
    ) -> list[TaskCreated]:
        """Commit `per_key` events for each user, one transaction per round, as the API would."""
        written: list[TaskCreated] = []
        for n in range(per_key):
            events = [
                TaskCreated(user_id=u, task_id=uuid.uuid4(), title=f"{title}{n}") for u in users
            ]
            async with self.session_factory() as session, session.begin():
                await append_to_outbox(session, events, topic=topic or self.topic)
            written += events
        return written

    async def unpublished(self) -> int:
        async with self.engine.connect() as conn:
            query = text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            return int((await conn.execute(query)).scalar_one())

    async def all_published(self) -> bool:
        return await self.unpublished() == 0

    async def consume(
        self, *, until: Callable[[list[Received]], bool], topic: str | None = None
    ) -> list[Received]:
        return await consume(self.kafka_servers, topic or self.topic, until=until)


@pytest.fixture
def relay(
    db: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    relay_settings: RelaySettings,
    kafka_servers: str,
    topic: str,
) -> Harness:
    return Harness(db, session_factory, relay_settings, kafka_servers, topic)


@dataclass(frozen=True)
class Received:
    key: str
    value: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int

    @property
    def event_id(self) -> str:
        return self.headers["event_id"].decode()


async def consume(
    servers: str, topic: str, *, until: Callable[[list[Received]], bool], seconds: float = 60
) -> list[Received]:
    """Read the topic from the start until `until(received)` holds or the deadline passes."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    received: list[Received] = []
    deadline = time.monotonic() + seconds
    try:
        while not until(received) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                received += [
                    Received(
                        key=r.key.decode(),
                        value=r.value,
                        headers=dict(r.headers),
                        partition=r.partition,
                        offset=r.offset,
                    )
                    for r in records
                ]
    finally:
        await consumer.stop()
    return received


def has_all(event_ids: set[str]) -> Callable[[list[Received]], bool]:
    return lambda received: event_ids <= {r.event_id for r in received}


def first_seen_order(received: Sequence[Received]) -> dict[str, list[str]]:
    """Per key, event ids in the order they first appeared on Kafka (duplicates dropped)."""
    seen: set[str] = set()
    order: dict[str, list[str]] = defaultdict(list)
    for r in sorted(received, key=lambda r: (r.partition, r.offset)):
        if r.event_id not in seen:
            seen.add(r.event_id)
            order[r.key].append(r.event_id)
    return dict(order)


def written_order(events: Sequence[TaskCreated]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = defaultdict(list)
    for e in events:
        order[e.key].append(str(e.event_id))
    return dict(order)


async def unpublished(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
            ).scalar_one()
        )


async def poll(
    check: Callable[[], Awaitable[bool]], *, seconds: float, every: float = 0.05
) -> bool:
    """Poll `check` until true or the deadline passes; returns its last answer."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True
