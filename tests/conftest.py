"""Shared fixtures: a fresh migrated database per test session, clean tables per test, Kafka."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.db import make_engine, make_session_factory
from tests.support.migrations import migrated_database
from tests.support.services import kafka_bootstrap_servers, postgres_admin_url

TABLES = (
    "processed_events",
    "outbox",
    "tasks",
    "users",
    "login_attempts",
    "relay_members",
    "relay_leases",
    "operator_actions",
)


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    with postgres_admin_url() as url:
        yield url


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> Iterator[str]:
    """A database of this test session's own, at the head migration."""
    with migrated_database(admin_url, "todo_test") as url:
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=5, max_overflow=20)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_factory(engine)


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncEngine:
    """The session's engine, with every table emptied before the test."""
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return engine


@pytest.fixture(scope="session")
async def kafka_servers() -> AsyncIterator[str]:
    with kafka_bootstrap_servers() as servers:
        await _wait_for_group_coordinator(servers)
        yield servers


async def _wait_for_group_coordinator(servers: str, *, seconds: float = 60) -> None:
    """A new broker creates `__consumer_offsets` on the first group request; until then every
    group call fails with a retriable error. Pay that once here, not in a random test."""
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            try:
                await admin.find_coordinator("warm-up")
                return
            except KafkaError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


@pytest.fixture
async def topic(kafka_servers: str) -> AsyncIterator[str]:
    """A topic of this test's own, with 3 partitions."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()
