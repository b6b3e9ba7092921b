"""Send envelopes to Kafka in one transaction per batch and report each message's outcome.

The producer is transactional, its `transactional_id` that of the relay's lease membership
(relay/leases.py): a relay that takes over an expired member's partitions starts a producer with
that member's id, which aborts the old member's open transaction and refuses whatever it sends
later (`fence`). Consumers read `read_committed`, so an aborted batch is never seen.
"""

from __future__ import annotations

import asyncio
import functools
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidProducerEpoch,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.partitioner import murmur2
from aiokafka.structs import RecordMetadata

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


class Ack(NamedTuple):
    """Where the broker stored an acknowledged message."""

    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one message was not acknowledged; a permanent one counts towards parking."""

    error: str
    permanent: bool


class BrokerUnavailableError(Exception):
    """Kafka cannot take messages now: publish nothing more, mark nothing, retry later."""


class ProducerFencedError(Exception):
    """Another relay took over our transactional id: this member may publish nothing more."""


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

    async def publish(self, messages: Sequence[Message]) -> list[Ack | Failure]:
        """Send all, await every ack; one outcome per message, an `Ack` or a `Failure`."""


def _retrieve(future: asyncio.Future[RecordMetadata]) -> None:
    if not future.cancelled():
        future.exception()


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


class KafkaPublisher:
    """aiokafka, transactional (so idempotent, acks=all); one batch is one Kafka transaction."""

    def __init__(self, settings: RelaySettings, *, transactional_id: str | None = None) -> None:
        self._settings = settings
        self.transactional_id = transactional_id or f"outbox-relay.{uuid.uuid4().hex}"
        self._producer: AIOKafkaProducer | None = None
        self._known_topics: set[str] = set()
        # Set when a transaction ended in doubt (timeout, lost broker): the next start, with the
        # same id, aborts it before anything else is sent.
        self._in_doubt = False

    @property
    def settled(self) -> bool:
        """No transaction in doubt: everything sent so far is committed or aborted."""
        return not self._in_doubt

    async def use(self, transactional_id: str) -> None:
        """Publish under another transactional id from now on (a new lease membership)."""
        await self.stop()
        self.transactional_id = transactional_id

    async def ensure_ready(self) -> None:
        try:
            if self._in_doubt and self._producer is not None:
                await self.stop()
            if self._producer is None:
                await self._start_producer()
                self._in_doubt = False
                if self._settings.kafka_topic not in self._known_topics:
                    await self._ensure_topic(self._settings.kafka_topic)
        except (ProducerFenced, InvalidProducerEpoch) as exc:
            raise ProducerFencedError(describe(exc)) from exc
        except (KafkaError, OSError, TimeoutError) as exc:
            raise BrokerUnavailableError(describe(exc)) from exc

    async def publish(self, messages: Sequence[Message]) -> list[Ack | Failure]:
        await self.ensure_ready()
        try:
            for topic in {m.topic for m in messages} - self._known_topics:
                await self._ensure_topic(topic)
            return await asyncio.wait_for(
                self._send_all(messages), self._settings.relay_publish_timeout_seconds
            )
        except (ProducerFenced, InvalidProducerEpoch) as exc:
            await self.stop()
            raise ProducerFencedError(describe(exc)) from exc
        except TimeoutError as exc:
            self._in_doubt = True
            raise BrokerUnavailableError("no acknowledgement within the publish timeout") from exc
        except (KafkaError, OSError) as exc:
            self._in_doubt = True
            raise BrokerUnavailableError(describe(exc)) from exc

    async def _send_all(self, messages: Sequence[Message]) -> list[Ack | Failure]:
        outcomes, refused = await self._transaction(messages)
        if refused:
            # The broker refused records, and that aborted their transaction, innocent
            # neighbours included: send the others again in a fresh one, then each refused
            # message alone, to tell a poison message from its neighbours.
            others = [i for i, o in enumerate(outcomes) if isinstance(o, Ack)]
            again, _ = await self._transaction([messages[i] for i in others])
            for i, outcome in zip(others, again, strict=True):
                outcomes[i] = outcome
            for index in sorted(refused):
                alone, _ = await self._transaction([messages[index]])
                outcomes[index] = alone[0]
        return outcomes

    async def _transaction(
        self, messages: Sequence[Message]
    ) -> tuple[list[Ack | Failure], set[int]]:
        """Send in one transaction; committed unless some were refused (their indexes).

        When some were refused the transaction is aborted: the others' outcomes are `Ack`s
        but nothing of them will ever be read.
        """
        if not messages:
            return [], set()
        await self.ensure_ready()
        producer = self._producer
        assert producer is not None
        await producer.begin_transaction()
        self._in_doubt = True
        pending: list[asyncio.Future[RecordMetadata] | Failure] = []
        for m in messages:
            try:
                pending.append(await self._send(producer, m))
            except PERMANENT_ERRORS as exc:  # raised before sending, e.g. over max_request_size
                pending.append(Failure(describe(exc), permanent=True))
        try:
            outcomes, refused = await self._outcomes(pending)
        except BaseException:
            for item in pending:  # fenced or broken: the others fail alike, unread
                if isinstance(item, asyncio.Future):
                    item.add_done_callback(_retrieve)
            raise
        if refused:
            await self._restart()  # a fresh producer with the same id aborts the transaction
            return outcomes, refused
        await producer.commit_transaction()
        self._in_doubt = False
        return outcomes, refused

    @staticmethod
    async def _outcomes(
        pending: Sequence[asyncio.Future[RecordMetadata] | Failure],
    ) -> tuple[list[Ack | Failure], set[int]]:
        outcomes: list[Ack | Failure] = []
        refused: set[int] = set()
        for index, item in enumerate(pending):
            if isinstance(item, Failure):
                outcomes.append(item)
                continue
            try:
                metadata = await item
                outcomes.append(Ack(metadata.partition, metadata.offset))
            except PERMANENT_ERRORS as exc:
                outcomes.append(Failure(describe(exc), permanent=True))
                refused.add(index)
        return outcomes, refused

    @staticmethod
    async def _send(producer: AIOKafkaProducer, m: Message) -> asyncio.Future[RecordMetadata]:
        future: asyncio.Future[RecordMetadata] = await producer.send(
            m.topic, m.value, key=m.key, headers=list(m.headers)
        )
        return future

    async def _restart(self) -> None:
        # A new producer with the same id aborts the open transaction and starts clean.
        await self.stop()
        await self._start_producer()
        self._in_doubt = False

    async def fence(self, transactional_id: str) -> None:
        """Abort `transactional_id`'s open transaction and refuse its producer from now on."""
        s = self._settings
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            client_id="outbox-relay-fence",
            transactional_id=transactional_id,
            enable_idempotence=True,
            request_timeout_ms=int(s.relay_publish_timeout_seconds * 1000),
        )
        try:
            # start() sends InitProducerId: the coordinator bumps the id's epoch and aborts.
            await asyncio.wait_for(producer.start(), s.relay_publish_timeout_seconds)
        finally:
            await producer.stop()

    async def _start_producer(self) -> None:
        s = self._settings
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            client_id="outbox-relay",
            partitioner=key_partitioner,
            transactional_id=self.transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=s.relay_linger_ms,
            max_batch_size=s.relay_max_batch_bytes,
            max_request_size=s.relay_max_request_size,
            request_timeout_ms=int(s.relay_publish_timeout_seconds * 1000),
        )
        try:
            await asyncio.wait_for(producer.start(), s.relay_publish_timeout_seconds)
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
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.stop(), self._settings.relay_publish_timeout_seconds)
        except TimeoutError:
            log.warning("kafka producer did not stop in time; queued messages dropped")
