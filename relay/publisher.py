"""Send envelopes to Kafka with one idempotent producer and report each message's outcome."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.partitioner import murmur2

from app.core.kafka import admin_client, ensure_topic
from relay.settings import RelaySettings

log = structlog.get_logger(__name__)

#: The broker will refuse these messages however often they are sent: park them, move on.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidTopicError,
)


@dataclass(frozen=True, slots=True)
class Message:
    """One envelope: where it goes, its key, its bytes, its headers."""

    topic: str
    key: bytes
    value: bytes
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one message was not acknowledged; a permanent one counts towards parking."""

    error: str
    permanent: bool


class BrokerUnavailableError(Exception):
    """Kafka cannot take messages now: publish nothing more, mark nothing, retry later."""


@functools.lru_cache(maxsize=100_000)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def key_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default murmur2 key partitioning, with the pure-Python hash cached per user key."""
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - spreading, not secrecy
    return all_partitions[_key_hash(key) % len(all_partitions)]


class Publisher(Protocol):
    async def ensure_ready(self) -> None:
        """Return once the broker takes messages again; raise BrokerUnavailableError otherwise."""

    async def publish(self, messages: Sequence[Message]) -> list[Failure | None]:
        """Send all, await every ack; one outcome per message (None = acknowledged)."""


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


class KafkaPublisher:
    """aiokafka with idempotence and acks=all; one in-flight request per broker keeps key order."""

    def __init__(self, settings: RelaySettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._known_topics: set[str] = set()
        # Set when a batch timed out: its messages are still queued in the producer.
        self._backlogged = False

    async def ensure_ready(self) -> None:
        try:
            if self._producer is None:
                await self._start_producer()
                await self._ensure_topic(self._settings.kafka_topic)
            if self._backlogged:
                # The producer retries the queued batches by itself; once they are acked the
                # broker is back. Claiming more meanwhile would only pile up duplicates.
                producer = self._producer
                assert producer is not None
                await asyncio.wait_for(
                    producer.flush(), self._settings.relay_publish_timeout_seconds
                )
                self._backlogged = False
        except (KafkaError, OSError, TimeoutError) as exc:
            raise BrokerUnavailableError(describe(exc)) from exc

    async def publish(self, messages: Sequence[Message]) -> list[Failure | None]:
        await self.ensure_ready()
        try:
            for topic in {m.topic for m in messages} - self._known_topics:
                await self._ensure_topic(topic)
            return await asyncio.wait_for(
                self._send_all(messages), self._settings.relay_publish_timeout_seconds
            )
        except TimeoutError as exc:
            self._backlogged = True
            raise BrokerUnavailableError("no acknowledgement within the publish timeout") from exc
        except (KafkaError, OSError) as exc:
            raise BrokerUnavailableError(describe(exc)) from exc

    async def _send_all(self, messages: Sequence[Message]) -> list[Failure | None]:
        producer = self._producer
        assert producer is not None
        pending: list[asyncio.Future[object] | Failure] = []
        for m in messages:
            try:
                pending.append(await self._send(producer, m))
            except PERMANENT_ERRORS as exc:  # raised before sending, e.g. over max_request_size
                pending.append(Failure(describe(exc), permanent=True))
        outcomes: list[Failure | None] = []
        refused: list[int] = []
        broken = False
        for index, item in enumerate(pending):
            if isinstance(item, Failure):
                outcomes.append(item)
                continue
            try:
                await item
                outcomes.append(None)
            except PERMANENT_ERRORS as exc:
                outcomes.append(Failure(describe(exc), permanent=True))
                refused.append(index)
            except KafkaError as exc:
                # Retries are endless with idempotence, so anything else means the producer
                # itself is broken (fenced, sequence out of order): these rows go next cycle.
                outcomes.append(Failure(describe(exc), permanent=False))
                broken = True
        if refused or broken:
            # The broker refuses whole batches, innocent neighbours included, and a refused batch
            # leaves a gap in the producer's sequence numbers that fails every later batch of
            # that partition. So: a fresh producer, then each refused message alone.
            await self._restart()
            for index in refused:
                outcomes[index] = await self._send_alone(messages[index])
        return outcomes

    async def _send_alone(self, message: Message) -> Failure | None:
        producer = self._producer
        assert producer is not None
        try:
            await (await self._send(producer, message))
        except PERMANENT_ERRORS as exc:
            await self._restart()
            return Failure(describe(exc), permanent=True)
        except KafkaError as exc:
            await self._restart()
            return Failure(describe(exc), permanent=False)
        return None

    @staticmethod
    async def _send(producer: AIOKafkaProducer, m: Message) -> asyncio.Future[object]:
        future: asyncio.Future[object] = await producer.send(
            m.topic, m.value, key=m.key, headers=list(m.headers)
        )
        return future

    async def _restart(self) -> None:
        await self.stop()
        await self._start_producer()

    async def _start_producer(self) -> None:
        s = self._settings
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            client_id="outbox-relay",
            partitioner=key_partitioner,
            enable_idempotence=True,
            acks="all",
            linger_ms=s.relay_linger_ms,
            max_batch_size=s.relay_max_batch_bytes,
            max_request_size=s.relay_max_request_size,
            request_timeout_ms=int(s.relay_publish_timeout_seconds * 1000),
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer
        log.info("kafka producer started", bootstrap_servers=s.kafka_bootstrap_servers)

    async def _ensure_topic(self, topic: str) -> None:
        s = self._settings
        admin = admin_client(
            s.kafka_bootstrap_servers, request_timeout_s=s.relay_publish_timeout_seconds
        )
        await admin.start()
        try:
            await ensure_topic(
                admin,
                topic,
                partitions=s.relay_topic_partitions,
                replication_factor=s.relay_topic_replication_factor,
            )
        finally:
            await admin.close()
        self._known_topics.add(topic)

    async def stop(self) -> None:
        """Flush what can be flushed within the publish timeout, then close."""
        producer, self._producer = self._producer, None
        self._backlogged = False
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.stop(), self._settings.relay_publish_timeout_seconds)
        except TimeoutError:
            log.warning("kafka producer did not stop in time; queued messages dropped")
