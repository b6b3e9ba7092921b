"""The composition root: settings in, a running mailer out. Wrappers compose around one handler."""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial
from zoneinfo import ZoneInfo

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import CollectorRegistry

from app.core.db import engine_from_settings
from app.core.events import DAILY_DIGEST_REQUESTED
from app.core.service_http import HealthReport, service_registry, serving
from mailer.consumer import ConsumerLoop
from mailer.dead_letter import DeadLetters, KafkaDeadLetters, dead_letter
from mailer.dedupe import DedupeStore, PostgresDedupeStore
from mailer.handler import DigestHandler
from mailer.message import Handler
from mailer.metrics import MailerMetrics
from mailer.render import message_id_for, render_digest
from mailer.retry import backoff, retry_database, retry_transient
from mailer.settings import MailerSettings
from mailer.topics import prepare_topics
from mailer.tracing import traced, traced_transport
from mailer.transport import MailTransport, SmtpTransport

log = structlog.get_logger(__name__)

_STALLED_AFTER_S = 60.0


def polling(loop: ConsumerLoop) -> HealthReport:
    """Healthy while the consume loop polls; a stalled loop would lose its place in the group."""
    since = time.monotonic() - loop.last_poll
    healthy = since < _STALLED_AFTER_S
    status = "ok" if healthy else "stalled"
    return HealthReport(healthy, {"status": status, "seconds_since_poll": round(since, 3)})


def build_handler(
    settings: MailerSettings,
    *,
    store: DedupeStore,
    transport: MailTransport,
    letters: DeadLetters,
    metrics: MailerMetrics,
) -> Handler:
    """traced(dead_letter(retry_database(retry_transient(DigestHandler))))."""
    database_wait = backoff(
        initial=settings.db_retry_initial_seconds, maximum=settings.db_retry_max_seconds
    )
    core = DigestHandler(
        store=store,
        transport=transport,
        render=partial(
            render_digest,
            mail_from=settings.mail_from,
            timezone=ZoneInfo(settings.digest_timezone),
            message_id_domain=settings.mail_message_id_domain,
            unsubscribe_url=settings.unsubscribe_url,
        ),
        record_wait=database_wait,
        on_record_retry=metrics.retries.labels("database").inc,
        message_id=partial(message_id_for, domain=settings.mail_message_id_domain),
    )
    smtp_wait = backoff(
        initial=settings.smtp_retry_initial_seconds, maximum=settings.smtp_retry_max_seconds
    )
    handler = retry_transient(
        core, attempts=settings.smtp_retry_attempts, wait=smtp_wait, metrics=metrics
    )
    handler = retry_database(handler, wait=database_wait, metrics=metrics)
    handler = dead_letter(handler, letters=letters, wait=database_wait, metrics=metrics)
    return traced(handler)


async def run_mailer(
    settings: MailerSettings, *, stop: asyncio.Event, registry: CollectorRegistry | None = None
) -> None:
    """Consume until `stop` is set, then finish in-flight sends, commit and close everything."""
    metrics = MailerMetrics(registry or service_registry())
    async with contextlib.AsyncExitStack() as resources:
        # One claim transaction per message in flight. No pre-ping: that is a round trip per
        # email, and a dead pooled connection already surfaces as a retried outage.
        engine = engine_from_settings(
            settings, pool_size=settings.mailer_concurrency, pre_ping=False
        )
        resources.push_async_callback(engine.dispose)
        transport = traced_transport(
            SmtpTransport(settings), host=settings.smtp_host, port=settings.smtp_port
        )
        resources.push_async_callback(transport.close)
        if not await prepare_topics(settings, stop=stop):
            return  # stopped while waiting for the topic
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True
        )
        await producer.start()
        resources.push_async_callback(producer.stop)
        kafka = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.mailer_group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # The relay publishes in transactions: a fenced relay's aborted batch is never read.
            isolation_level="read_committed",
            fetch_min_bytes=settings.mailer_fetch_min_bytes,
            fetch_max_wait_ms=settings.mailer_fetch_max_wait_ms,
        )
        loop = ConsumerLoop(
            kafka=kafka,
            handler=build_handler(
                settings,
                store=PostgresDedupeStore(engine),
                transport=transport,
                letters=KafkaDeadLetters(producer, topic=settings.kafka_dlq_topic),
                metrics=metrics,
            ),
            concurrency=settings.mailer_concurrency,
            commit_interval=settings.mailer_commit_interval_seconds,
            drain_timeout=settings.mailer_drain_timeout_seconds,
            metrics=metrics,
            # Most of the stream is task events: skip them by header, without decoding.
            handles=frozenset({DAILY_DIGEST_REQUESTED}),
        )
        await resources.enter_async_context(
            serving(
                host=settings.mailer_health_host,
                port=settings.mailer_health_port,
                registry=metrics.registry,
                health=partial(polling, loop),
            )
        )
        kafka.subscribe([settings.kafka_topic], listener=loop.listener)
        await kafka.start()
        resources.push_async_callback(kafka.stop)
        log.info("mailer started", topic=settings.kafka_topic, group=settings.mailer_group_id)
        await loop.run(stop)
    log.info("mailer stopped")
