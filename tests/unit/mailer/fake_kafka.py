"""An in-memory stand-in for the parts of AIOKafkaConsumer the consume loop uses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import TopicPartition


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    value: bytes | None = b"{}"
    headers: tuple[tuple[str, bytes], ...] = ()


class FakeKafka:
    def __init__(self, topic: str = "events", partitions: int = 1) -> None:
        self.topic = topic
        self._assigned = {TopicPartition(topic, p) for p in range(partitions)}
        self._paused: set[TopicPartition] = set()
        self._queue: list[Record] = []
        self.committed: dict[TopicPartition, int] = {}
        self.commits: list[dict[TopicPartition, int]] = []
        self.pauses = 0
        #: The log end per partition as a fetch would report it; None until set.
        self.ends: dict[TopicPartition, int] = {}

    def feed(
        self, partition: int, *offsets: int, headers: tuple[tuple[str, bytes], ...] = ()
    ) -> None:
        self._queue.extend(Record(self.topic, partition, o, headers=headers) for o in offsets)

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def pause(self, *partitions: TopicPartition) -> None:
        self.pauses += 1
        self._paused.update(partitions)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused.difference_update(partitions)

    async def getmany(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Record]]:
        ready = [
            r for r in self._queue if TopicPartition(r.topic, r.partition) not in self._paused
        ][: max_records or len(self._queue)]
        if not ready:
            await asyncio.sleep(min(timeout_ms, 10) / 1000)
            return {}
        batch: dict[TopicPartition, list[Record]] = {}
        for record in ready:
            self._queue.remove(record)
            batch.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        return batch

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)
        self.commits.append(dict(offsets))

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.ends.get(partition)

    def position(self, partition: int) -> int | None:
        return self.committed.get(TopicPartition(self.topic, partition))
