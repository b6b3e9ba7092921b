"""The claim-publish-mark loop: claim a batch of our partitions, Kafka commits it, mark the rows.

A crash anywhere before the mark leaves the rows unpublished, so they are sent again by the
next cycle or the partition's next owner (at least once); nothing is ever marked that Kafka did
not commit. The loop knows
no SQL (`relay/store.py` claims, marks and parks) and no header names (`relay/envelope.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import structlog
from prometheus_client import CollectorRegistry
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.wait import wait_random_exponential

from relay.envelope import to_message
from relay.leases import LeaseExpiredError, LeaseLostError
from relay.metrics import RelayMetrics
from relay.publisher import Ack, BrokerUnavailableError, Failure, ProducerFencedError, Publisher
from relay.settings import RelaySettings
from relay.store import ClaimedBatch, ClaimedRow, OutboxStore
from relay.tracing import traced_send
from relay.waits import wait_any

log = structlog.get_logger(__name__)


class ShutdownRequestedError(Exception):
    """Raised out of a backoff sleep when shutdown was requested."""


class Forwarder:
    """Moves committed outbox rows to Kafka, one claimed batch per transaction."""

    def __init__(
        self,
        store: OutboxStore,
        publisher: Publisher,
        settings: RelaySettings,
        *,
        metrics: RelayMetrics | None = None,
        cycle_lock: asyncio.Lock | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._settings = settings
        self.metrics = metrics or RelayMetrics(CollectorRegistry())
        self._claimed = 0
        #: Held for a whole cycle: partitions are released only between two cycles.
        self.cycle_lock = cycle_lock or asyncio.Lock()

    async def run_once(self) -> int:
        """Claim, publish and mark one batch; returns how many rows Kafka acknowledged."""
        async with self.cycle_lock:
            return await self._cycles(pipeline=False)

    async def run_backlog(self) -> int:
        """Like `run_once`, but while batches come back full, pipelined, for up to a heartbeat.

        While Kafka commits batch N, the next claim reads batch N+1 (leaving out the rows still
        in flight); while Kafka takes N+1, batch N is marked. Kafka transactions stay one at a
        time, in claim order, and a row is still marked only after its transaction committed.
        The run ends at a short batch (the backlog is drained) or after
        `RELAY_HEARTBEAT_SECONDS`, so a lease can be released between two runs.
        """
        async with self.cycle_lock:
            return await self._cycles(pipeline=True)

    async def _cycles(self, *, pipeline: bool) -> int:
        limit = self._settings.relay_batch_size
        await self._publisher.ensure_ready()  # during an outage: claim nothing at all
        ends = time.monotonic() + self._settings.relay_heartbeat_seconds
        batch = await self._store.claim(limit)
        self._claimed = len(batch.rows)
        settling: asyncio.Task[int] | None = None  # the previous batch's marks
        unmarked: list[int] = []  # its row ids, left out of the next claim until marked
        acked = 0
        try:
            while batch.rows:
                publishing = asyncio.ensure_future(self._publish(batch.rows))
                ids = [row.id for row in batch.rows]
                following: asyncio.Future[ClaimedBatch] | None = None
                if pipeline and len(ids) == limit and time.monotonic() < ends:
                    marking = settling is not None and not settling.done()
                    in_flight = ids + unmarked if marking else ids
                    following = asyncio.ensure_future(self._store.claim(limit, excluding=in_flight))
                try:
                    outcomes = await publishing
                except BaseException:
                    _drop(following)
                    raise
                if any(isinstance(o, Failure) and not o.permanent for o in outcomes):
                    _drop(following)  # retry this batch's failed rows before their successors
                    following = None
                if settling is not None:
                    acked += await settling  # one batch's marks in flight at a time
                settling = asyncio.ensure_future(self._settle(batch, outcomes))
                unmarked = ids
                if following is None:
                    break
                batch = await following
                self._claimed = len(batch.rows)
        finally:
            if settling is not None:
                acked += await settling
        return acked

    async def _publish(self, rows: Sequence[ClaimedRow]) -> list[Ack | Failure]:
        with traced_send(rows) as record_outcomes:
            outcomes = await self._publisher.publish([to_message(row) for row in rows])
            record_outcomes(outcomes)
        return outcomes

    async def _settle(self, batch: ClaimedBatch, outcomes: Sequence[Ack | Failure]) -> int:
        """Mark what Kafka acknowledged, count the refusals; raise if the broker failed some."""
        acked_at = time.time()
        rows = batch.rows
        acks = [(r, o) for r, o in zip(rows, outcomes, strict=True) if isinstance(o, Ack)]
        acked = [row for row, _ in acks]
        if acks:
            await batch.mark_published([(r.id, a.partition, a.offset) for r, a in acks])
        failed = [(r, o) for r, o in zip(rows, outcomes, strict=True) if isinstance(o, Failure)]
        for row, failure in failed:
            if failure.permanent:
                await self._record_failure(batch, row, failure)
        self.metrics.published.inc(len(acked))
        for row in acked:
            self.metrics.latency.observe(max(acked_at - float(row.created), 0.0))
        if acked:
            log.debug(
                "batch published",
                count=len(acked),
                first_event_id=str(acked[0].event_id),
                last_event_id=str(acked[-1].event_id),
            )
        if any(not failure.permanent for _, failure in failed):
            raise BrokerUnavailableError(next(f.error for _, f in failed if not f.permanent))
        return len(acked)

    async def _record_failure(self, batch: ClaimedBatch, row: ClaimedRow, failure: Failure) -> None:
        # A parked row is a poison message: later rows of the same key go on without it, so a
        # consumer sees a gap in that user's stream. The metric and this log line report it.
        record = await batch.record_failure(
            row.id, error=failure.error, max_attempts=self._settings.relay_max_attempts
        )
        self.metrics.errors.labels(kind="rejected").inc()
        event = log.bind(event_id=row.event_id, outbox_id=row.id, attempts=record.attempts)
        if record.parked:
            self.metrics.parked_total.inc()
            self.metrics.parked.inc()
            event.error("event parked", event_type=row.type, key=row.key, error=failure.error)
        else:
            event.warning("event rejected by the broker", error=failure.error)

    async def run(self, *, wakeup: asyncio.Event, stop: asyncio.Event) -> None:
        """Drain while there is work, then sleep until a NOTIFY, the fallback poll, or stop.

        Claims start at most every `RELAY_CLAIM_INTERVAL_MS`: under a steady stream of commits,
        each with its NOTIFY, one claim takes the rows of that interval instead of every commit
        paying for a transaction and a Kafka round trip of its own. Under a heavy stream the
        interval grows up to `RELAY_CLAIM_INTERVAL_MAX_MS` (`next_claim_interval`). A NOTIFY
        after a quiet spell is claimed at once.
        """
        s = self._settings
        interval_ms: float = s.relay_claim_interval_ms
        previous_claim_at: float | None = None
        while not stop.is_set():
            wakeup.clear()  # before claiming, so a NOTIFY during the batch is not lost
            claimed_at = time.monotonic()
            try:
                await self._run_with_backoff(stop)
            except ShutdownRequestedError:
                return
            # The rows of this claim were committed since the previous claim started.
            since_ms = (
                interval_ms
                if previous_claim_at is None
                else (claimed_at - previous_claim_at) * 1000
            )
            previous_claim_at = claimed_at
            interval_ms = next_claim_interval(
                interval_ms,
                self._claimed,
                since_ms,
                base_ms=s.relay_claim_interval_ms,
                max_ms=s.relay_claim_interval_max_ms,
            )
            # A short batch means the backlog is drained: rows committed since the claim have
            # notified, so the wait returns at once for them (no extra empty claim).
            if self._claimed < s.relay_batch_size:
                await wait_any(wakeup, stop, seconds=s.relay_poll_interval_seconds)
                if (early := claimed_at + interval_ms / 1000 - time.monotonic()) > 0:
                    await wait_any(stop, seconds=early)

    async def _run_with_backoff(self, stop: asyncio.Event) -> int:
        async def sleep(seconds: float) -> None:
            await wait_any(stop, seconds=seconds)
            if stop.is_set():
                raise ShutdownRequestedError

        s = self._settings
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=wait_random_exponential(
                multiplier=s.relay_backoff_initial_seconds, max=s.relay_backoff_max_seconds
            ),
            sleep=sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return await retrying(self.run_backlog)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        kind = "broker" if isinstance(exc, BrokerUnavailableError) else type(exc).__name__
        if isinstance(exc, LeaseExpiredError):
            kind = "lease"
            self.metrics.fenced.labels(kind="lease_expired").inc()
        self.metrics.errors.labels(kind=kind).inc()
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("relay cycle failed, backing off", error=str(exc), kind=kind, retry_in=wait)


def next_claim_interval(
    current_ms: float, claimed: int, since_ms: float, *, base_ms: int, max_ms: int
) -> float:
    """The shortest time between the next two claim starts, in milliseconds.

    `claimed` rows were committed in the `since_ms` since the previous claim started. While
    that rate is over a row a millisecond (a stream of over 1,000 events a second), the interval
    doubles, up to `max_ms`; once it falls under three rows in four milliseconds, it halves back
    towards `base_ms`. A few more milliseconds of latency are cheap beside the CPU a transaction
    and a Kafka round trip per handful of rows cost; a slower stream keeps the base.

    The rate is taken over the time that really passed, not over the interval: one late claim
    (a slow cycle, a pause) finds the rows of its whole wait, which is no heavier a stream.
    """
    rate = claimed / max(since_ms, current_ms, 1e-3)  # rows a millisecond
    if rate > 1:
        return min(current_ms * 2, max(max_ms, base_ms))
    if rate < 0.75:
        return max(current_ms / 2, base_ms)
    return current_ms


def _drop(claim: asyncio.Future[ClaimedBatch] | None) -> None:
    # A claim is a read: left to finish on its own, its rows are claimed again next time.
    if claim is not None:
        claim.add_done_callback(lambda done: done.cancelled() or done.exception())


def _retryable(exc: BaseException) -> bool:
    # Outages, lost connections, an expired lease (the heartbeat renews it or finds it taken)
    # and bugs alike are retried with backoff rather than crash-looping; cancellation
    # (shutdown), a lost lease and a fenced producer end the loop instead.
    return isinstance(exc, Exception) and not isinstance(
        exc, LeaseLostError | ProducerFencedError | ShutdownRequestedError
    )
