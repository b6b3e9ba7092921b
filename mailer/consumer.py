"""The consume loop: bounded concurrency, out-of-order completion, in-order commits."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from app.core.envelope import EVENT_TYPE_HEADER, header
from mailer.message import Handler, Message, Outcome
from mailer.metrics import MailerMetrics
from mailer.offsets import OffsetTracker
from mailer.tracing import trace_ignored

log = structlog.get_logger(__name__)

_IDLE_POLL_MS = 500
_STALL_S = 1.0
_COMMIT_TIMEOUT_S = 10.0


class ConsumerLoop:
    """Fetch at most `concurrency` records ahead, handle each in its own task, commit in order."""

    def __init__(
        self,
        *,
        kafka: AIOKafkaConsumer,
        handler: Handler,
        concurrency: int,
        commit_interval: float,
        drain_timeout: float,
        metrics: MailerMetrics,
        handles: frozenset[str] | None = None,
    ) -> None:
        """`handles`: the event types `handler` acts on. A record whose event type header names
        another type is acknowledged as ignored at once, neither decoded nor given a task; a
        record without the header always goes to the handler."""
        self._kafka = kafka
        self._handler = handler
        self._handles = None if handles is None else frozenset(t.encode() for t in handles)
        self._concurrency = concurrency
        self._commit_interval = commit_interval
        self._drain_timeout = drain_timeout
        self._metrics = metrics
        self._tracker = OffsetTracker[TopicPartition]()
        self._tasks: dict[asyncio.Task[Outcome], tuple[TopicPartition, int]] = {}
        self._failure: BaseException | None = None
        self._last_commit = time.monotonic()
        self.last_poll = time.monotonic()
        self.listener = _CommitBeforeRevoke(self)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; then stop fetching, finish in-flight work and commit."""
        try:
            while not stop.is_set():
                await self._poll()
                if self._failure is not None:
                    raise self._failure
                if time.monotonic() - self._last_commit >= self._commit_interval:
                    await self.commit()
                    await self._refresh_lag()
        finally:
            await self.drain(None)
            await self.commit()

    async def _poll(self) -> None:
        self.last_poll = time.monotonic()
        free = self._concurrency - len(self._tasks)
        assigned = self._kafka.assignment()
        if free <= 0:
            done, _ = await asyncio.wait(
                set(self._tasks), timeout=_STALL_S, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                # Stalled (a database outage): poll while paused so the group keeps us. Not on
                # every full round, because pausing drops the records already prefetched.
                self._kafka.pause(*assigned)
                await self._kafka.getmany(timeout_ms=0)
            return
        if paused := self._kafka.paused():
            self._kafka.resume(*paused)
        batches = await self._kafka.getmany(timeout_ms=_IDLE_POLL_MS, max_records=free)
        for partition, records in batches.items():
            for record in records:
                if partition not in self._kafka.assignment():
                    break  # revoked while this batch was in hand: the new owner reads it
                if self._not_for_us(record):
                    self._tracker.started(partition, record.offset)
                    self._tracker.finished(partition, record.offset)
                    self._metrics.messages.labels(Outcome.IGNORED.value).inc()
                    trace_ignored(record)
                    continue
                self._start(partition, record)

    def _not_for_us(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        if self._handles is None:
            return False
        kind = header(record.headers or (), EVENT_TYPE_HEADER)
        return kind is not None and kind not in self._handles

    def _start(self, partition: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        # The record as received, field for field (Message's order is the record's).
        headers = tuple(record.headers or ())
        message = Message(
            record.topic, record.partition, record.offset, record.key, record.value, headers
        )
        self._tracker.started(partition, record.offset)
        task = asyncio.create_task(
            self._handler(message), name=f"mailer-{partition}-{record.offset}"
        )
        self._tasks[task] = (partition, record.offset)
        self._metrics.in_flight.inc()
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        partition, offset = self._tasks.pop(task)
        self._metrics.in_flight.dec()
        if task.cancelled():
            return  # never marked finished: its offset is not committed past
        if (error := task.exception()) is not None:
            # A bug, not a message problem: stop rather than commit past a message not handled.
            log.error(
                "handler crashed", partition=partition.partition, offset=offset, exc_info=error
            )
            self._failure = self._failure or error
            return
        self._tracker.finished(partition, offset)
        self._metrics.messages.labels(task.result().value).inc()

    async def drain(self, partitions: set[TopicPartition] | None) -> None:
        """Wait (bounded) for in-flight messages of these partitions, or of all when None."""
        tasks = [t for t, (tp, _) in self._tasks.items() if partitions is None or tp in partitions]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self._drain_timeout)
        if pending:
            log.warning("in-flight messages outlived the drain timeout", count=len(pending))
            if partitions is None:
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)

    async def commit(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit each partition up to its last contiguous finished offset."""
        self._last_commit = time.monotonic()
        offsets = self._tracker.committable(
            self._kafka.assignment() if partitions is None else partitions
        )
        if not offsets:
            return
        try:
            # Bounded, so a broker in trouble cannot hold a SIGTERM past the container's grace.
            await asyncio.wait_for(self._kafka.commit(offsets), timeout=_COMMIT_TIMEOUT_S)
        except (KafkaError, TimeoutError) as error:
            # e.g. mid-rebalance: these messages come again and the dedupe skips them.
            log.warning("offset commit failed", error=repr(error))
            return
        self._tracker.mark_committed(offsets)
        self._metrics.commits.inc()

    def forget(self, partitions: set[TopicPartition]) -> None:
        self._tracker.forget(partitions)
        for tp in partitions:
            with contextlib.suppress(KeyError):
                self._metrics.lag.remove(str(tp.partition))

    async def _refresh_lag(self) -> None:
        """Lag per partition: the log end the last fetch saw minus what is handled to the end."""
        for tp in self._kafka.assignment():
            end = self._kafka.highwater(tp)
            if end is None:
                continue  # nothing fetched from it yet
            done = self._tracker.done_upto(tp)
            if done is None:
                try:
                    done = await self._kafka.position(tp)
                except KafkaError:
                    continue
            self._metrics.lag.labels(str(tp.partition)).set(max(end - done, 0))


class _CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions move to another member, finish what we started on them and commit it."""

    def __init__(self, loop: ConsumerLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        revoked = set(revoked)
        await self._loop.drain(revoked)
        await self._loop.commit(revoked)
        self._loop.forget(revoked)
        log.info("partitions revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned", partitions=sorted(tp.partition for tp in assigned))
