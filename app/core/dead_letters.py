"""The dead-letter topic's records: their header names, and reading the topic for operators.

The mailer writes a dead letter as the original record (value, key, headers) plus the headers
below; its `dlq` commands list, replay and discard them; the relay's `trace` command looks an
event up among them. Every piece that reads or writes those headers takes the names from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from app.core.envelope import EVENT_ID_HEADER, EVENT_TYPE_HEADER, header

REASON_HEADER: Final = "dlq-reason"
DETAIL_HEADER: Final = "dlq-detail"
ORIGINAL_TOPIC_HEADER: Final = "dlq-original-topic"
ORIGINAL_PARTITION_HEADER: Final = "dlq-original-partition"
ORIGINAL_OFFSET_HEADER: Final = "dlq-original-offset"
FAILED_AT_HEADER: Final = "dlq-failed-at"
#: Added to a replayed record: the dead letter it came from, `topic:partition:offset`.
REPLAYED_FROM_HEADER: Final = "dlq-replayed-from"
DLQ_PREFIX: Final = "dlq-"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of the dead-letter topic, with what its headers say about the failure."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def ref(self) -> str:
        """`topic:partition:offset`, how operator actions name this record."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    def _text(self, name: str) -> str:
        return (header(self.headers, name) or b"").decode(errors="replace")

    @property
    def event_id(self) -> uuid.UUID | None:
        """From its header, else from the value (a record from a producer that sent none)."""
        candidate = self._text(EVENT_ID_HEADER)
        if not candidate:
            with contextlib.suppress(ValueError, AttributeError):
                candidate = str(json.loads(self.value or b"").get("event_id", ""))
        try:
            return uuid.UUID(candidate)
        except ValueError:
            return None

    @property
    def event_type(self) -> str:
        return self._text(EVENT_TYPE_HEADER)

    @property
    def reason(self) -> str:
        return self._text(REASON_HEADER)

    @property
    def detail(self) -> str:
        return self._text(DETAIL_HEADER)

    @property
    def original(self) -> tuple[str, int | None, int | None]:
        """The topic, partition and offset the record was consumed from."""
        return (
            self._text(ORIGINAL_TOPIC_HEADER),
            _int(self._text(ORIGINAL_PARTITION_HEADER)),
            _int(self._text(ORIGINAL_OFFSET_HEADER)),
        )

    @property
    def failed_at(self) -> datetime:
        """When the mailer gave up: its header, else the record's own timestamp."""
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(self._text(FAILED_AT_HEADER))
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The original headers, event id included, without the dead-letter ones."""
        kept = [(k, v) for k, v in self.headers if not k.startswith(DLQ_PREFIX)]
        return [*kept, (REPLAYED_FROM_HEADER, self.ref.encode())]


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


async def read_dead_letters(servers: str, topic: str, *, within: float = 30.0) -> list[DeadLetter]:
    """Every record of `topic` up to its end at the time of the call; [] when it does not exist."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            # Metadata is fetched lazily: ask once for this topic before concluding it is absent.
            with contextlib.suppress(KafkaError):
                await consumer._client.force_metadata_update()  # no public call for it
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        letters: list[DeadLetter] = []
        async with asyncio.timeout(within):
            while await _behind(consumer, ends):
                for records in (await consumer.getmany(*tps, timeout_ms=500)).values():
                    letters += [
                        DeadLetter(
                            r.topic,
                            r.partition,
                            r.offset,
                            r.timestamp,
                            r.key,
                            r.value,
                            tuple(r.headers or ()),
                        )
                        for r in records
                        if r.offset < ends[TopicPartition(r.topic, r.partition)]
                    ]
        return sorted(letters, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def find(letters: Sequence[DeadLetter], event_id: uuid.UUID) -> list[DeadLetter]:
    """The dead letters of one event (a replayed event that failed again has several)."""
    return [d for d in letters if d.event_id == event_id]
