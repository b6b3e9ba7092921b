"""Start-up order: the mailer may start before the relay has created the topic."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.ext.asyncio import AsyncEngine

from mailer.settings import MailerSettings
from tests.integration.mailer.conftest import eventually, publish, running
from tests.support.digests import make_digest
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.integration


@pytest.fixture
async def admin(kafka_servers: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_servers)
    await client.start()
    yield client
    await client.close()


async def test_a_mailer_started_before_its_topic_exists_waits_for_it(
    db: AsyncEngine,
    settings: MailerSettings,
    smtp: SmtpSink,
    producer: AIOKafkaProducer,
    admin: AIOKafkaAdminClient,
) -> None:
    late = settings.model_copy(update={"kafka_topic": f"late-{uuid.uuid4().hex[:12]}"})
    digest = make_digest()
    try:
        async with running(late) as mailer:
            await eventually(lambda: _exists(admin, late.kafka_dlq_topic))
            assert not mailer.task.done()
            await admin.create_topics([NewTopic(late.kafka_topic, 3, 1)])
            await publish(producer, late.kafka_topic, digest)
            await eventually(lambda: _received(smtp))
    finally:
        await admin.delete_topics([late.kafka_topic])


async def test_stopping_while_waiting_for_the_topic_exits_cleanly(
    settings: MailerSettings, admin: AIOKafkaAdminClient
) -> None:
    missing = settings.model_copy(update={"kafka_topic": f"never-{uuid.uuid4().hex[:12]}"})
    async with running(missing) as mailer:
        await eventually(lambda: _exists(admin, missing.kafka_dlq_topic))
    assert mailer.task.done()
    assert mailer.task.exception() is None


async def _exists(admin: AIOKafkaAdminClient, topic: str) -> bool:
    return topic in await admin.list_topics()


async def _received(smtp: SmtpSink) -> bool:
    return len(smtp.handler.messages) == 1
