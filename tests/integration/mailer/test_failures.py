"""SMTP failing for a while, SMTP refusing for good, poison records: retried, parked, moved past."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.events import TaskCreated
from mailer.settings import MailerSettings
from tests.integration.mailer.conftest import (
    RunningMailer,
    committed_offsets,
    eventually,
    processed_count,
    publish,
    read_all,
    running,
)
from tests.support.digests import make_digest
from tests.support.ports import free_port
from tests.support.smtp import RecordingHandler, SmtpSink

pytestmark = pytest.mark.integration


async def test_smtp_answering_4xx_for_a_while_is_retried_and_the_offset_waits(
    db: AsyncEngine, settings: MailerSettings, smtp: SmtpSink, producer: AIOKafkaProducer
) -> None:
    smtp.handler.temporary_failures = 4
    slow = settings.model_copy(update={"smtp_retry_initial_seconds": 0.3})
    digest = make_digest()
    offset = await publish(producer, settings.kafka_topic, digest, partition=0)

    async with running(slow) as mailer:
        await eventually(lambda: _answered_4xx(smtp, 2))
        # Mid-retry: nothing sent, nothing recorded, the offset not committed past the message.
        assert smtp.handler.messages == []
        assert (await committed_offsets(slow.kafka_bootstrap_servers, slow.mailer_group_id)).get(
            0, 0
        ) <= offset
        await eventually(lambda: _committed(slow, {0: offset + 1}))

    assert [m["Message-ID"] for m in smtp.handler.messages] == [
        f"<{digest.event_id}@eventful-todo>"
    ]
    assert mailer.metric("mailer_retries_total", kind="smtp") == 4
    assert await processed_count(db) == 1


async def test_an_smtp_server_down_then_up_gets_the_email_once(
    db: AsyncEngine, settings: MailerSettings, producer: AIOKafkaProducer
) -> None:
    later = SmtpSink(RecordingHandler(), port=free_port())  # nothing listens there yet
    down = settings.model_copy(update={"smtp_port": later.port})
    digest = make_digest()
    await publish(producer, settings.kafka_topic, digest)

    async with running(down) as mailer:
        await eventually(lambda: _retried(mailer))
        later.start()
        try:
            await eventually(lambda: _received(later, 1))
            await eventually(lambda: processed_count(db))
        finally:
            later.stop()

    assert len(later.handler.messages) == 1
    assert mailer.metric("mailer_messages_total", outcome="dead_lettered") == 0


async def test_a_permanently_rejected_recipient_goes_to_the_dlq_and_later_digests_still_go_out(
    db: AsyncEngine,
    settings: MailerSettings,
    smtp: SmtpSink,
    producer: AIOKafkaProducer,
    dlq_topic: str,
) -> None:
    rejected = make_digest(email="nobody@example.com")
    smtp.handler.rejected.add(rejected.email)
    later = make_digest()
    first = await publish(producer, settings.kafka_topic, rejected, partition=1)
    await publish(producer, settings.kafka_topic, later, partition=1)

    async with running(settings) as mailer:
        [letter] = await read_all(settings.kafka_bootstrap_servers, dlq_topic, count=1)
        await eventually(lambda: _received(smtp, 1))
        await eventually(lambda: _committed(settings, {1: first + 2}))

    headers = {name: value.decode() for name, value in letter.headers}
    assert letter.value == rejected.model_dump_json().encode()
    assert letter.key == rejected.key.encode()
    assert headers["dlq-reason"] == "smtp-recipient-refused"
    assert "550" in headers["dlq-detail"]
    assert headers["event_type"] == "email.daily_digest.requested"
    assert headers["dlq-original-offset"] == str(first)
    assert [m["To"] for m in smtp.handler.messages] == [later.email]
    assert mailer.metric("mailer_retries_total", kind="smtp") == 0


async def test_garbage_goes_to_the_dlq_and_other_event_types_are_acknowledged(
    db: AsyncEngine,
    settings: MailerSettings,
    smtp: SmtpSink,
    producer: AIOKafkaProducer,
    dlq_topic: str,
) -> None:
    topic = settings.kafka_topic
    await publish(producer, topic, value=b"\x00\xffnot json", key=b"k", partition=2)
    await publish(producer, topic, value=b'{"type":"email.daily_digest.requested"}', partition=2)
    await publish(producer, topic, value=b'{"type":"task.archived","x":1}', partition=2)
    created = TaskCreated(user_id=uuid.uuid4(), task_id=uuid.uuid4(), title="Hi")
    await publish(producer, topic, value=created.model_dump_json().encode(), partition=2)
    digest = make_digest()
    last = await publish(producer, topic, digest, partition=2)

    async with running(settings) as mailer:
        await eventually(lambda: _committed(settings, {2: last + 1}))
        letters = await read_all(settings.kafka_bootstrap_servers, dlq_topic, count=2)

    reasons = sorted(dict(letter.headers)["dlq-reason"].decode() for letter in letters)
    assert reasons == ["invalid-event", "undecodable"]
    assert letters[0].value == b"\x00\xffnot json"
    assert mailer.metric("mailer_messages_total", outcome="ignored") == 2
    assert [m["To"] for m in smtp.handler.messages] == [digest.email]


async def test_offsets_are_committed_only_up_to_the_first_unfinished_message(
    db: AsyncEngine, settings: MailerSettings, smtp: SmtpSink, producer: AIOKafkaProducer
) -> None:
    stuck = make_digest(email="slow@example.com")
    smtp.handler.held.add(stuck.email)
    first = await publish(producer, settings.kafka_topic, stuck, partition=0)
    await publish(producer, settings.kafka_topic, make_digest(), partition=0)
    last = await publish(producer, settings.kafka_topic, make_digest(), partition=0)

    async with running(settings):
        await eventually(lambda: _received(smtp, 2))
        # Finished after the two behind the stuck one, so its commit covers their completion.
        marker = await publish(producer, settings.kafka_topic, make_digest(), partition=1)
        await eventually(lambda: _committed(settings, {1: marker + 1}))
        assert (
            await committed_offsets(settings.kafka_bootstrap_servers, settings.mailer_group_id)
        )[0] == first
        smtp.handler.release.set()
        await eventually(lambda: _committed(settings, {0: last + 1}))

    assert len(smtp.handler.messages) == 4


async def _answered_4xx(smtp: SmtpSink, n: int) -> bool:
    return smtp.handler.temporary_failures_answered >= n


async def _received(smtp: SmtpSink, n: int) -> bool:
    return len(smtp.handler.messages) >= n


async def _retried(mailer: RunningMailer) -> bool:
    return mailer.metric("mailer_retries_total", kind="smtp") >= 1


async def _committed(settings: MailerSettings, expected: dict[int, int]) -> bool:
    offsets = await committed_offsets(settings.kafka_bootstrap_servers, settings.mailer_group_id)
    return all(offsets.get(p) == o for p, o in expected.items())
