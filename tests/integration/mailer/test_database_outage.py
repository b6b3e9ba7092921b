"""PostgreSQL going away pauses the mailer: nothing skipped, nothing sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import make_url
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
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.fault]


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    url = make_url(database_url)
    proxy = TcpProxy(target_host=url.host or "127.0.0.1", target_port=url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest.fixture
def behind_proxy(settings: MailerSettings, database_url: str, proxy: TcpProxy) -> MailerSettings:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return settings.model_copy(update={"database_url": url.render_as_string(hide_password=False)})


async def test_digests_arriving_during_an_outage_wait_and_go_out_once_it_ends(
    db: AsyncEngine,
    behind_proxy: MailerSettings,
    proxy: TcpProxy,
    smtp: SmtpSink,
    producer: AIOKafkaProducer,
) -> None:
    settings = behind_proxy
    async with running(settings) as mailer:
        before = await publish(producer, settings.kafka_topic, make_digest(), partition=0)
        await eventually(lambda: _committed(settings, before + 1))
        await proxy.cut()
        during = [make_digest() for _ in range(3)]
        for digest in during:
            last = await publish(producer, settings.kafka_topic, digest, partition=0)
        await eventually(lambda: _database_retries(mailer, 3))

        assert len(smtp.handler.messages) == 1  # no claim, no send
        assert (
            await committed_offsets(settings.kafka_bootstrap_servers, settings.mailer_group_id)
        )[0] == before + 1

        await proxy.start()
        await eventually(lambda: _committed(settings, last + 1))

    assert len(smtp.handler.messages) == 4
    assert await processed_count(db) == 4


async def test_a_database_lost_between_send_and_record_does_not_cause_a_resend(
    db: AsyncEngine,
    behind_proxy: MailerSettings,
    proxy: TcpProxy,
    smtp: SmtpSink,
    producer: AIOKafkaProducer,
) -> None:
    settings = behind_proxy
    digest = make_digest(email="held@example.com")
    smtp.handler.held.add(digest.email)
    offset = await publish(producer, settings.kafka_topic, digest, partition=0)

    async with running(settings) as mailer:
        await eventually(lambda: _holding(smtp))  # claimed, and now in the SMTP DATA phase
        await proxy.cut()  # the claim transaction dies with its connection
        smtp.handler.release.set()  # ...and the SMTP server accepts the email after that
        await eventually(lambda: _received(smtp))
        await eventually(lambda: _database_retries(mailer, 2))
        await proxy.start()
        await eventually(lambda: _committed(settings, offset + 1))

    assert len(smtp.handler.messages) == 1
    assert await processed_count(db) == 1


async def _committed(settings: MailerSettings, offset: int) -> bool:
    offsets = await committed_offsets(settings.kafka_bootstrap_servers, settings.mailer_group_id)
    return offsets.get(0) == offset


async def _database_retries(mailer: RunningMailer, n: int) -> bool:
    return mailer.metric("mailer_retries_total", kind="database") >= n


async def _received(smtp: SmtpSink) -> bool:
    return len(smtp.handler.messages) == 1


async def _holding(smtp: SmtpSink) -> bool:
    return smtp.handler.holding == 1
