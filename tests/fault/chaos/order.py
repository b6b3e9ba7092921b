"""Per-key order under faults: causally ordered writers, a live reader, and the order checker.

Each writer thread owns a few keys and writes their sequences 1, 2, 3, ... round-robin, every
event in a transaction of its own and only after the previous one of its key committed: so if
Kafka shows seq n of a key before seq n-1, the pipeline reordered it. A write whose COMMIT
failed is retried with the same event id (`ON CONFLICT DO NOTHING`), so an ambiguous commit is
never a gap. The reader follows the topic `read_committed` and notes when each event first
became visible; the checker reads the topic once more from the start after everything drained.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from tests.support.kafka import topic_records
from tests.support.processes import sync_url

ORDER_TYPE = "chaos.order"
NAMESPACE = uuid.UUID("6f1d8a52-98a4-4c3e-9a51-0d7e2f1c4b10")
INSERT = text(
    """
    INSERT INTO outbox (event_id, topic, key, type, payload, occurred_at)
    VALUES (:event_id, :topic, :key, :type, CAST(:payload AS jsonb), now())
    ON CONFLICT DO NOTHING
    """
)


def event_id(key: str, seq: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{key}/{seq}")


class OrderedWriters:
    """`writers` threads, each writing `keys_each` keys' sequences in causal order."""

    def __init__(
        self, database_url: str, topic: str, *, writers: int = 6, keys_each: int = 8
    ) -> None:
        self._engine = create_engine(sync_url(database_url), pool_size=writers, pool_pre_ping=True)
        self._topic = topic
        self._stop = threading.Event()
        run = uuid.uuid4().hex[:6]
        self.keys = [[f"k-{run}-{w}-{k}" for k in range(keys_each)] for w in range(writers)]
        #: event id -> wall-clock time its COMMIT returned
        self.committed: dict[uuid.UUID, float] = {}
        self.retries = 0
        self._threads = [
            threading.Thread(target=self._write, args=(keys,), daemon=True) for keys in self.keys
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        self._engine.dispose()

    def _write(self, keys: list[str]) -> None:
        seq = 0
        while not self._stop.is_set():
            seq += 1
            for key in keys:
                self._write_one(key, seq)
            time.sleep(0.02)

    def _write_one(self, key: str, seq: int) -> None:
        eid = event_id(key, seq)
        payload = json.dumps({"event_id": str(eid), "type": ORDER_TYPE, "key": key, "seq": seq})
        params = {"event_id": eid, "topic": self._topic, "key": key, "type": ORDER_TYPE}
        while True:  # the next event of this key waits for this one's commit: causal order
            try:
                with self._engine.begin() as conn:
                    conn.execute(INSERT, params | {"payload": payload})
                self.committed[eid] = time.time()
                return
            except DBAPIError:
                self.retries += 1
                time.sleep(0.2)


class LiveReader:
    """Follows the topic `read_committed` from the start; notes when each event first showed."""

    def __init__(self, servers: str, topic: str, partitions: int) -> None:
        self._servers, self._topic, self._partitions = servers, topic, partitions
        self._stop = threading.Event()
        self.seen_at: dict[uuid.UUID, float] = {}
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._servers,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            consumer.assign([TopicPartition(self._topic, p) for p in range(self._partitions)])
            while not self._stop.is_set():
                try:
                    batches = await consumer.getmany(timeout_ms=200)
                except Exception:  # the broker restarts: the consumer reconnects by itself
                    await asyncio.sleep(0.2)
                    continue
                now = time.time()
                for messages in batches.values():
                    for m in messages:
                        eid = uuid.UUID(json.loads(m.value)["event_id"])
                        self.seen_at.setdefault(eid, now)
        finally:
            await consumer.stop()


@dataclass
class FaultWindow:
    """One fault: its name and the wall-clock span until the next fault began."""

    name: str
    started: float
    ended: float = 0.0


@dataclass(frozen=True)
class OrderReport:
    committed: int
    delivered: int
    lost: int
    order_violations: int
    duplicates: int
    #: fault -> the longest commit-to-visible time of an event committed during its window (s)
    stall_s: dict[str, float] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_order(
    servers: str,
    topic: str,
    writers: OrderedWriters,
    reader: LiveReader,
    windows: list[FaultWindow],
) -> OrderReport:
    """Read the whole topic and count lost events, per-key reorderings and duplicates."""
    records = [r for r in asyncio.run(topic_records(servers, topic, within=60)) if r["key"]]
    records.sort(key=lambda r: (r["partition"], r["offset"]))
    highest: dict[str, int] = defaultdict(int)
    seen: set[uuid.UUID] = set()
    violations, duplicates = 0, 0
    examples: list[str] = []
    for r in records:
        if r["event_id"] in seen:
            duplicates += 1
            continue
        seen.add(r["event_id"])
        key, seq = r["key"], int(r["value"]["seq"])
        # Causal writes: the first sight of each seq must be exactly the next one of its key.
        if seq != highest[key] + 1:
            violations += 1
            if len(examples) < 5:
                examples.append(f"{key}: seq {seq} first seen after seq {highest[key]}")
        highest[key] = max(highest[key], seq)
    committed = set(writers.committed)
    stall: dict[str, float] = {}
    for window in windows:
        delays = [
            reader.seen_at[eid] - at
            for eid, at in writers.committed.items()
            if window.started <= at < window.ended and eid in reader.seen_at
        ]
        stall[window.name] = round(max(delays, default=0.0), 2)
    return OrderReport(
        committed=len(committed),
        delivered=len(seen & committed),
        lost=len(committed - seen),
        order_violations=violations,
        duplicates=duplicates,
        stall_s=stall,
        examples=examples,
    )
