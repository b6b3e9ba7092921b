"""The whole relay (`relay.service.serve`) rides out a broker crash and lost DB connections."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from app.core.events import TaskCreated
from relay.service import serve
from relay.settings import RelaySettings
from tests.integration.relay.conftest import (
    Harness,
    consume,
    first_seen_order,
    has_all,
    poll,
    written_order,
)
from tests.support import ROOT
from tests.support.ports import free_port
from tests.support.services import missing

pytestmark = [pytest.mark.integration, pytest.mark.fault]

#: The metrics registries of the relays `running` started (each relay has its own).
REGISTRIES: list[CollectorRegistry] = []


class OwnKafka:
    """A broker of these tests' own (never the shared one), to crash and restart at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.env = os.environ | {
            "SERVICES_DIR": tempfile.mkdtemp(prefix="relay-kafka-"),
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
        }
        self.servers = f"127.0.0.1:{self.port}"

    def run(self, command: str) -> None:
        subprocess.run(
            [str(ROOT / "scripts/services.sh"), command], env=self.env, check=True, timeout=180
        )


@pytest.fixture(scope="module")
def own_kafka() -> Iterator[OwnKafka]:
    if shutil.which("java") is None:
        missing("a Kafka of the test's own needs java for scripts/services.sh")
    kafka = OwnKafka()
    kafka.run("start-kafka")
    try:
        yield kafka
    finally:
        kafka.run("kill-kafka")
        shutil.rmtree(kafka.env["SERVICES_DIR"], ignore_errors=True)


@pytest.fixture
async def running(relay: Harness) -> AsyncIterator[list[RelaySettings]]:
    """Start `serve(settings)` for the settings a test appends; stop them all afterwards."""
    configs: list[RelaySettings] = []
    REGISTRIES.clear()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def starter() -> None:
        while True:
            while len(tasks) < len(configs):
                registry = CollectorRegistry()
                REGISTRIES.append(registry)
                tasks.append(
                    asyncio.create_task(serve(configs[len(tasks)], stop, registry=registry))
                )
            await asyncio.sleep(0.01)

    starting = asyncio.create_task(starter())
    yield configs
    stop.set()
    starting.cancel()
    await asyncio.gather(starting, return_exceptions=True)
    await asyncio.wait_for(asyncio.gather(*tasks), 30)


def broker_errors() -> float:
    """Failed cycles counted by the relays the `running` fixture started."""
    return sum(
        r.get_sample_value("relay_errors_total", {"kind": "broker"}) or 0.0 for r in REGISTRIES
    )


async def test_a_broker_crash_under_writes_loses_nothing_and_heals_by_itself(
    relay: Harness, running: list[RelaySettings], own_kafka: OwnKafka
) -> None:
    topic = f"outage-{uuid.uuid4().hex[:8]}"
    settings = relay.settings.model_copy(
        update={"kafka_bootstrap_servers": own_kafka.servers, "kafka_topic": topic}
    )
    running.append(settings)
    users = [uuid.uuid4() for _ in range(5)]
    written = await relay.write(users=users, per_key=20, topic=topic)

    async def drained() -> bool:
        return await relay.unpublished() == 0

    assert await poll(drained, seconds=60)

    own_kafka.run("kill-kafka")
    errors = broker_errors()
    during: list[TaskCreated] = []
    for _ in range(20):
        during += await relay.write(users=users, per_key=1, topic=topic)

    async def retried_twice() -> bool:
        return broker_errors() >= errors + 2

    assert await poll(retried_twice, seconds=60)
    assert await relay.unpublished() == len(during), "nothing is marked while the broker is down"

    own_kafka.run("start-kafka")
    assert await poll(drained, seconds=90)
    written += during
    ids = {str(e.event_id) for e in written}
    received = await consume(own_kafka.servers, topic, until=has_all(ids))
    assert {r.event_id for r in received} == ids
    assert first_seen_order(received) == written_order(written)

    admin = AIOKafkaAdminClient(bootstrap_servers=own_kafka.servers)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert len(described["partitions"]) == settings.relay_topic_partitions


async def test_lost_database_connections_are_re_established_and_publishing_resumes(
    relay: Harness, running: list[RelaySettings]
) -> None:
    running.append(relay.settings)
    users = [uuid.uuid4() for _ in range(3)]
    first = await relay.write(users=users, per_key=5)

    async def drained() -> bool:
        return await relay.unpublished() == 0

    assert await poll(drained, seconds=30)
    async with relay.engine.connect() as conn:
        killed = (
            await conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        ).scalar_one()
    assert killed >= 3  # the listener, the lock holder and at least one pooled connection

    second = await relay.write(users=users, per_key=5)
    assert await poll(drained, seconds=30)
    ids = {str(e.event_id) for e in first + second}
    received = await relay.consume(until=has_all(ids))
    assert ids <= {r.event_id for r in received}
