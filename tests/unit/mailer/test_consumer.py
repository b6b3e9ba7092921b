"""The consume loop: bounded concurrency, commits in order, drains on stop and on revocation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from mailer.consumer import ConsumerLoop
from mailer.message import Message, Outcome
from mailer.metrics import MailerMetrics
from tests.unit.mailer.fake_kafka import FakeKafka

pytestmark = [pytest.mark.unit, pytest.mark.timeout(20)]


class Gated:
    """A handler whose messages finish only when the test opens their offset's gate."""

    def __init__(self) -> None:
        self.gates: dict[int, asyncio.Event] = {}
        self.started: list[int] = []
        self.active = 0
        self.most_active = 0

    def gate(self, offset: int) -> asyncio.Event:
        return self.gates.setdefault(offset, asyncio.Event())

    async def __call__(self, message: Message) -> Outcome:
        self.started.append(message.offset)
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            await self.gate(message.offset).wait()
        finally:
            self.active -= 1
        return Outcome.SENT


def make_loop(
    kafka: FakeKafka,
    handler: Gated,
    *,
    concurrency: int = 8,
    handles: frozenset[str] | None = None,
    metrics: MailerMetrics | None = None,
) -> ConsumerLoop:
    return ConsumerLoop(
        kafka=kafka,
        handler=handler,
        concurrency=concurrency,
        commit_interval=0.0,
        drain_timeout=5.0,
        metrics=metrics or MailerMetrics(CollectorRegistry()),
        handles=handles,
    )


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while True:
            if condition():
                return
            await asyncio.sleep(0.005)


async def run_until(loop: ConsumerLoop, body: Callable[[], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await body()
    finally:
        stop.set()
        await task


P0 = TopicPartition("events", 0)


async def test_out_of_order_completion_commits_only_the_contiguous_prefix() -> None:
    kafka, handler = FakeKafka(), Gated()
    kafka.feed(0, 0, 1, 2)
    loop = make_loop(kafka, handler)

    async def body() -> None:
        await until(lambda: len(handler.started) == 3)
        handler.gate(1).set()
        handler.gate(2).set()
        await until(lambda: len(kafka.commits) >= 1)
        kafka.feed(0, 3)  # one more full poll-and-commit round after 1 and 2 finished
        await until(lambda: 3 in handler.started)
        assert kafka.position(0) == 0
        handler.gate(0).set()
        handler.gate(3).set()
        await until(lambda: kafka.position(0) == 4)

    await run_until(loop, body)


async def test_records_of_other_types_are_acknowledged_by_header_without_the_handler() -> None:
    kafka, handler = FakeKafka(), Gated()
    kafka.feed(0, 0, 1, headers=(("event_type", b"task.created"),))
    kafka.feed(0, 2, headers=(("event_type", b"email.daily_digest.requested"),))
    kafka.feed(0, 3, headers=(("content-type", b"application/json"),))  # no type: handler decides
    kafka.feed(0, 4, headers=(("event_type", b"task.deleted"),))
    metrics = MailerMetrics(CollectorRegistry())
    loop = make_loop(
        kafka, handler, handles=frozenset({"email.daily_digest.requested"}), metrics=metrics
    )

    async def body() -> None:
        await until(lambda: len(handler.started) == 2)
        assert kafka.position(0) in (None, 2)  # 0 and 1 are done; 2 is still in flight
        handler.gate(2).set()
        handler.gate(3).set()
        await until(lambda: kafka.position(0) == 5)

    await run_until(loop, body)
    assert handler.started == [2, 3]
    ignored = metrics.registry.get_sample_value("mailer_messages_total", {"outcome": "ignored"})
    assert ignored == 3


async def test_no_more_than_the_concurrency_bound_is_in_flight() -> None:
    kafka, handler = FakeKafka(partitions=2), Gated()
    kafka.feed(0, *range(10))
    kafka.feed(1, *range(10))
    loop = make_loop(kafka, handler, concurrency=3)

    async def body() -> None:
        await until(lambda: handler.active == 3)
        await until(lambda: kafka.pauses > 0)
        assert len(handler.started) == 3
        for offset in range(10):
            handler.gate(offset).set()
        await until(lambda: kafka.position(0) == 10 and kafka.position(1) == 10)

    await run_until(loop, body)
    assert handler.most_active == 3


async def test_stopping_waits_for_in_flight_messages_and_commits_them() -> None:
    kafka, handler = FakeKafka(), Gated()
    kafka.feed(0, 0, 1)
    loop = make_loop(kafka, handler)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await until(lambda: len(handler.started) == 2)
    stop.set()
    await asyncio.sleep(0.05)
    assert not task.done()  # still draining
    handler.gate(0).set()
    handler.gate(1).set()
    await task
    assert kafka.position(0) == 2


async def test_a_handler_crash_stops_the_loop_without_committing_past_it() -> None:
    kafka = FakeKafka()
    kafka.feed(0, 0, 1, 2)

    async def crashes_on_1(message: Message) -> Outcome:
        if message.offset == 1:
            raise RuntimeError("bug")
        return Outcome.SENT

    loop = ConsumerLoop(
        kafka=kafka,
        handler=crashes_on_1,
        concurrency=8,
        commit_interval=0.0,
        drain_timeout=5.0,
        metrics=MailerMetrics(CollectorRegistry()),
    )
    with pytest.raises(RuntimeError, match="bug"):
        await loop.run(asyncio.Event())
    assert kafka.position(0) == 1


async def test_revoked_partitions_are_drained_and_committed_first() -> None:
    kafka, handler = FakeKafka(partitions=2), Gated()
    kafka.feed(0, 0)
    kafka.feed(1, 0)
    loop = make_loop(kafka, handler)

    async def body() -> None:
        await until(lambda: len(handler.started) == 2)
        revoking = asyncio.create_task(loop.listener.on_partitions_revoked({P0}))
        await asyncio.sleep(0.02)
        assert not revoking.done()  # waits for partition 0's message
        handler.gate(0).set()
        await revoking
        assert kafka.commits[-1] == {P0: 1}

    await run_until(loop, body)


async def test_the_lag_is_the_log_end_minus_what_is_handled_to_the_end() -> None:
    kafka, handler = FakeKafka(), Gated()
    kafka.feed(0, 0, 1, 2, 3)
    kafka.ends[P0] = 10  # six more records the loop has not fetched yet
    metrics = MailerMetrics(CollectorRegistry())
    loop = make_loop(kafka, handler, metrics=metrics)

    def lag() -> float | None:
        return metrics.registry.get_sample_value("mailer_consumer_lag", {"partition": "0"})

    async def body() -> None:
        await until(lambda: len(handler.started) == 4)
        await until(lambda: lag() == 10)  # offset 0 unfinished: nothing is done yet
        handler.gate(0).set()
        handler.gate(1).set()
        await until(lambda: lag() == 8)
        handler.gate(3).set()  # 2 still runs: 3 finishing does not count yet
        await asyncio.sleep(0.05)
        assert lag() == 8
        handler.gate(2).set()
        await until(lambda: lag() == 6)

    await run_until(loop, body)
