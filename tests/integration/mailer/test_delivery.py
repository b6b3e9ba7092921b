"""One digest event in Kafka -> exactly one well-formed email, recorded and committed."""

from __future__ import annotations

import uuid
from email.message import EmailMessage

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from mailer.settings import MailerSettings
from tests.integration.mailer.conftest import (
    RunningMailer,
    committed_offsets,
    eventually,
    processed_count,
    publish,
    running,
)
from tests.support.digests import make_digest
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.integration


async def test_a_digest_event_becomes_one_email_with_text_and_escaped_html_parts(
    db: AsyncEngine, settings: MailerSettings, smtp: SmtpSink, producer: AIOKafkaProducer
) -> None:
    digest = make_digest(undone_titles=["Pay rent", "<script>alert('x')</script> & co"])
    await publish(producer, settings.kafka_topic, digest)

    async with running(settings):
        [email] = await eventually(lambda: _messages(smtp))
        await eventually(lambda: processed_count(db))

    assert email["To"] == digest.email
    assert email["From"] == "Eventful TODO <digest@eventful-todo.test>"
    assert email["Message-ID"] == f"<{digest.event_id}@eventful-todo>"
    assert email["Subject"] == "Your TODO digest for Thu 26 Nov 2026: 2 to do, 1 done"
    text = email.get_body(("plain",))
    html = email.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "<script>alert('x')</script> & co" in text.get_content()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in html.get_content()
    assert "<script>" not in html.get_content()


async def test_the_same_event_published_three_times_is_mailed_once(
    db: AsyncEngine, settings: MailerSettings, smtp: SmtpSink, producer: AIOKafkaProducer
) -> None:
    digest = make_digest()
    after = make_digest()
    for _ in range(3):
        await publish(producer, settings.kafka_topic, digest)
    await publish(producer, settings.kafka_topic, after)

    async with running(settings) as mailer:
        await eventually(lambda: _count(smtp, after.event_id))
        await eventually(lambda: _finished(mailer, 4))

    assert await _count(smtp, digest.event_id) == 1
    assert mailer.metric("mailer_messages_total", outcome="duplicate") == 2


async def test_a_restarted_consumer_and_a_new_group_resend_nothing(
    db: AsyncEngine, settings: MailerSettings, smtp: SmtpSink, producer: AIOKafkaProducer
) -> None:
    for _ in range(5):
        await publish(producer, settings.kafka_topic, make_digest())
    async with running(settings):
        await eventually(lambda: _total(smtp, 5))

    later = make_digest()
    await publish(producer, settings.kafka_topic, later)
    async with running(settings) as same_group:  # resumes after the committed offsets
        await eventually(lambda: _count(smtp, later.event_id))
    # A group without offsets re-reads everything, as after a crash before any commit.
    replay = settings.model_copy(update={"mailer_group_id": f"replay-{uuid.uuid4().hex[:6]}"})
    async with running(replay) as new_group:
        await eventually(lambda: _finished(new_group, 6))

    assert len(smtp.handler.messages) == 6
    assert same_group.finished() == 1
    assert new_group.metric("mailer_messages_total", outcome="duplicate") == 6
    replayed = await committed_offsets(settings.kafka_bootstrap_servers, replay.mailer_group_id)
    assert sum(replayed.values()) == 6


async def _messages(smtp: SmtpSink) -> list[EmailMessage]:
    return smtp.handler.messages


async def _count(smtp: SmtpSink, event_id: uuid.UUID) -> int:
    wanted = f"<{event_id}@eventful-todo>"
    return sum(1 for m in smtp.handler.messages if m["Message-ID"] == wanted)


async def _total(smtp: SmtpSink, n: int) -> bool:
    return len(smtp.handler.messages) >= n


async def _finished(mailer: RunningMailer, n: int) -> bool:
    return mailer.finished() >= n
