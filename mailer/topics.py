"""Topics at start: create the dead-letter topic, wait for the relay to create the source one."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from app.core.kafka import admin_client, ensure_topic
from mailer.settings import MailerSettings

log = structlog.get_logger(__name__)

_RECHECK_S = 1.0


async def prepare_topics(settings: MailerSettings, *, stop: asyncio.Event) -> bool:
    """True once both topics exist; False if `stop` was set first."""
    admin = admin_client(settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await ensure_topic(
            admin,
            settings.kafka_dlq_topic,
            partitions=settings.kafka_dlq_partitions,
            replication_factor=settings.kafka_dlq_replication_factor,
        )
        waited = 0
        # The relay owns the source topic and its partition count; subscribing before it exists
        # makes aiokafka give up at start, so wait for it here instead.
        while settings.kafka_topic not in await admin.list_topics():
            if waited % 30 == 0:
                log.info("waiting for the topic", topic=settings.kafka_topic)
            waited += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=_RECHECK_S)
            if stop.is_set():
                return False
        return True
    finally:
        await admin.close()
