"""The poison-queue wrapper: a permanent failure goes to the dead-letter topic, then we move on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception_type
from tenacity.wait import wait_base

from app.core.dead_letters import (
    DETAIL_HEADER,
    FAILED_AT_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    REASON_HEADER,
)
from app.core.envelope import EVENT_ID_HEADER, header
from mailer.message import Handler, Message, Outcome, PermanentError
from mailer.metrics import MailerMetrics

log = structlog.get_logger(__name__)


class DeadLetters(Protocol):
    async def publish(self, message: Message, *, reason: str, detail: str) -> None: ...


def dead_letter_headers(message: Message, *, reason: str, detail: str) -> list[tuple[str, bytes]]:
    """The original headers, then why and where from, so the record can be replayed as is."""
    return [
        *message.headers,
        (REASON_HEADER, reason.encode()),
        (DETAIL_HEADER, detail[:1000].encode()),
        (ORIGINAL_TOPIC_HEADER, message.topic.encode()),
        (ORIGINAL_PARTITION_HEADER, str(message.partition).encode()),
        (ORIGINAL_OFFSET_HEADER, str(message.offset).encode()),
        (FAILED_AT_HEADER, datetime.now(UTC).isoformat().encode()),
    ]


class KafkaDeadLetters:
    def __init__(self, producer: AIOKafkaProducer, *, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def publish(self, message: Message, *, reason: str, detail: str) -> None:
        await self._producer.send_and_wait(
            self._topic,
            value=message.value,
            key=message.key,
            headers=dead_letter_headers(message, reason=reason, detail=detail),
        )


def dead_letter(
    handler: Handler, *, letters: DeadLetters, wait: wait_base, metrics: MailerMetrics
) -> Handler:
    """Park permanent failures; if Kafka refuses the dead letter, retry rather than lose it."""

    async def handle(message: Message) -> Outcome:
        try:
            return await handler(message)
        except PermanentError as failure:
            log.warning(
                "dead-lettering",
                event_id=(header(message.headers, EVENT_ID_HEADER) or b"").decode(errors="replace"),
                reason=failure.reason,
                detail=failure.detail,
                partition=message.partition,
                offset=message.offset,
            )
            retrying = AsyncRetrying(
                retry=retry_if_exception_type(KafkaError),
                wait=wait,
                before_sleep=lambda _: metrics.retries.labels("dead_letter").inc(),
            )
            await retrying(letters.publish, message, reason=failure.reason, detail=failure.detail)
            return Outcome.DEAD_LETTERED

    return handle
