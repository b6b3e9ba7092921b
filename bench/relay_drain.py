"""The relay's numbers beside the Kafka ceiling, measured in one run on this machine.

1. ceiling: the same messages sent by a bare aiokafka producer (same settings, no database),
   idempotent, and transactional with one transaction per batch as the relay sends them;
2. drain: the relay's claim-publish-mark loop (holding every partition's lease, as a relay
   alone does) emptying a backlog of N outbox rows written after a simulated outage: the
   table's statistics were taken while every row was published, and nothing ANALYZEs it
   before or during the drain (autovacuum is off for the run's own database);
3. latency: a writer process commits events at a steady rate; the relay (woken by NOTIFY)
   publishes them; commit-to-ack latency per event (the writer's clock after COMMIT returned,
   the relay's after Kafka's ack; one machine, one clock).

    eval "$(scripts/services.sh env)"
    .venv/bin/python bench/relay_drain.py --events 100000 --rate 500 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/relay_drain.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import make_engine, make_session_factory
from app.core.envelope import EVENT_ID_HEADER, header
from app.core.events import TaskCreated
from app.core.logging import configure_logging
from app.core.models import OutboxEvent
from app.core.outbox import append_to_outbox, outbox_row
from app.core.process import tune_gc
from bench.database import bench_database
from bench.stats import percentile
from relay.envelope import to_message
from relay.forwarder import Forwarder
from relay.leases import LeaseManager, new_member, transactional_id
from relay.metrics import RelayMetrics
from relay.publisher import Ack, Failure, KafkaPublisher, Message, key_partitioner
from relay.settings import RelaySettings
from relay.store import ClaimedRow, PostgresOutboxStore
from relay.wakeup import NotifyListener

USERS = [uuid.uuid4() for _ in range(1000)]


def settings_for(url: str, servers: str, topic: str, batch: int) -> RelaySettings:
    return RelaySettings(
        database_url=url,
        kafka_bootstrap_servers=servers,
        kafka_topic=topic,
        relay_batch_size=batch,
        relay_metrics_port=0,
        log_level="WARNING",
    )


async def create_topic(servers: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def insert_events(engine: AsyncEngine, topic: str, events: int) -> None:
    async with engine.begin() as conn:
        for start in range(0, events, 10_000):
            rows = [
                outbox_row(
                    TaskCreated(
                        user_id=USERS[i % len(USERS)], task_id=uuid.uuid4(), title=f"task {i}"
                    ),
                    topic=topic,
                )
                for i in range(start, min(start + 10_000, events))
            ]
            await conn.execute(insert(OutboxEvent), rows)


async def fill_outbox(url: str, topic: str, events: int) -> None:
    """`events` published rows, ANALYZE, then the outage's backlog of `events` new rows."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE outbox SET (autovacuum_enabled = false)"))
        await insert_events(engine, topic, events)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE outbox SET published_at = now()"))
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        async with autocommit.connect() as conn:
            await conn.execute(text("VACUUM ANALYZE outbox"))  # statistics: all published
        await insert_events(engine, topic, events)  # the backlog a Kafka outage leaves
    finally:
        await engine.dispose()


async def stored_messages(url: str) -> list[Message]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            query = text(
                "SELECT id, event_id::text, topic, key, type, payload::text, headers, 0"
                " FROM outbox WHERE published_at IS NULL ORDER BY id"
            )
            return [to_message(ClaimedRow._make(row)) for row in (await conn.execute(query)).all()]
    finally:
        await engine.dispose()


async def ceiling(
    settings: RelaySettings,
    messages: Sequence[Message],
    topic: str,
    *,
    cached_hash: bool,
    transactional: bool = False,
) -> float:
    """Events/s of a bare producer loop: same messages, batches and producer settings.

    Stock aiokafka hashes every key in pure Python (murmur2, ~20 us a message); the relay caches
    that hash per user key. Measured both ways, so neither ratio flatters the relay.
    """
    s = settings
    extra: dict[str, Any] = {"partitioner": key_partitioner} if cached_hash else {}
    if transactional:
        extra["transactional_id"] = f"bench-ceiling-{uuid.uuid4().hex}"
    producer = AIOKafkaProducer(
        bootstrap_servers=s.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=s.relay_linger_ms,
        max_batch_size=s.relay_max_batch_bytes,
        max_request_size=s.relay_max_request_size,
        **extra,
    )
    await producer.start()
    try:
        if transactional:
            async with producer.transaction():
                await producer.send_and_wait(topic, b"{}", key=b"warm-up")
        else:
            await producer.send_and_wait(topic, b"{}", key=b"warm-up")
        start = time.perf_counter()
        for first in range(0, len(messages), s.relay_batch_size):
            if transactional:
                await producer.begin_transaction()
            futures = [
                await producer.send(topic, m.value, key=m.key, headers=list(m.headers))
                for m in messages[first : first + s.relay_batch_size]
            ]
            await asyncio.gather(*futures)
            if transactional:
                await producer.commit_transaction()
        return len(messages) / (time.perf_counter() - start)
    finally:
        await producer.stop()


class AckClock(KafkaPublisher):
    """The real publisher, noting when each event was acknowledged."""

    def __init__(self, settings: RelaySettings, member: str) -> None:
        super().__init__(settings, transactional_id=transactional_id(member))
        self.acked_at: dict[str, float] = {}
        self.expected = 0
        self.all_acked = asyncio.Event()

    async def publish(self, messages: Sequence[Message]) -> list[Ack | Failure]:
        outcomes = await super().publish(messages)
        now = time.time()
        for message, outcome in zip(messages, outcomes, strict=True):
            if isinstance(outcome, Ack):
                event_id = header(message.headers, EVENT_ID_HEADER)
                assert event_id is not None
                self.acked_at.setdefault(event_id.decode(), now)
        if self.expected and len(self.acked_at) >= self.expected:
            self.all_acked.set()
        return outcomes


@contextlib.asynccontextmanager
async def leased(
    settings: RelaySettings, engine: AsyncEngine, publisher: AckClock, member: str
) -> AsyncIterator[Forwarder]:
    """A forwarder whose claims and marks are fenced by the leases of a relay running alone."""
    lock = asyncio.Lock()
    leases = LeaseManager(
        engine,
        settings,
        member=member,
        fence=publisher.fence,
        cycle_lock=lock,
        may_release=lambda: publisher.settled,
        metrics=RelayMetrics(CollectorRegistry()),
    )
    await leases.prepare()
    await leases.heartbeat()
    stop = asyncio.Event()
    heartbeat = asyncio.create_task(leases.run(stop))
    try:
        store = PostgresOutboxStore(engine, lease=leases.current)
        yield Forwarder(store, publisher, settings, cycle_lock=lock)
    finally:
        stop.set()
        await heartbeat
        await leases.leave()


async def drain(settings: RelaySettings, events: int) -> float:
    """Events/s of the relay's loop (`Forwarder.run`) emptying the outbox, marks included."""
    engine = make_engine(settings.sqlalchemy_url, pool_size=3, autocommit=True)
    member = new_member()
    publisher = AckClock(settings, member)
    publisher.expected = events
    wakeup, stop = asyncio.Event(), asyncio.Event()
    try:
        async with leased(settings, engine, publisher, member) as forwarder:
            await publisher.ensure_ready()
            start = time.perf_counter()
            running = asyncio.create_task(forwarder.run(wakeup=wakeup, stop=stop))
            await publisher.all_acked.wait()
            stop.set()  # the loop finishes marking the batches in flight, then returns
            await running
            return events / (time.perf_counter() - start)
    finally:
        await publisher.stop()
        await engine.dispose()


async def latency(settings: RelaySettings, *, rate: int, seconds: float) -> dict[str, float]:
    """Commit-to-ack latency under a steady write load from a separate writer process."""
    engine = make_engine(settings.sqlalchemy_url, pool_size=2, autocommit=True)
    member = new_member()
    publisher = AckClock(settings, member)
    wakeup, stop = asyncio.Event(), asyncio.Event()
    await publisher.ensure_ready()
    relay = leased(settings, engine, publisher, member)
    forwarder = await relay.__aenter__()
    tasks = [
        asyncio.create_task(NotifyListener(settings.libpq_conninfo, wakeup, backoff_max=1).run()),
        asyncio.create_task(forwarder.run(wakeup=wakeup, stop=stop)),
    ]
    try:
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--writer",
            settings.sqlalchemy_url,
            settings.kafka_topic,
            str(rate),
            str(seconds),
            stdout=subprocess.PIPE,
        )
        out, _ = await writer.communicate()
        written = json.loads(out)
        committed: dict[str, float] = written["committed"]
        publisher.expected = len(committed)
        if len(publisher.acked_at) >= publisher.expected:  # acked before the writer reported
            publisher.all_acked.set()
        wakeup.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(publisher.all_acked.wait(), 30)
    finally:
        stop.set()
        tasks[0].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await relay.__aexit__(None, None, None)
        await publisher.stop()
        await engine.dispose()
    warm = sorted(committed.items(), key=lambda item: item[1])[rate:]  # skip the first second
    samples = [(publisher.acked_at[eid] - t) * 1000 for eid, t in warm if eid in publisher.acked_at]
    return {
        "events": len(committed),
        "rate": round(len(committed) / written["elapsed"], 1),
        "p50_ms": round(percentile(samples, 50), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "max_ms": round(max(samples), 2),
        "missing": len(committed) - len(publisher.acked_at),
    }


async def write_steadily(url: str, topic: str, rate: int, seconds: float) -> dict[str, Any]:
    """The writer process: one event per transaction at `rate` a second, like API requests.

    A fixed set of writers follows the schedule; on a starved machine the rate drops (and is
    reported) rather than requests piling up.
    """
    workers = 16
    engine = make_engine(url, pool_size=workers, max_overflow=0)
    session_factory = make_session_factory(engine)
    committed: dict[str, float] = {}
    total = int(rate * seconds)
    start = time.monotonic()
    next_index = iter(range(total))

    async def writer() -> None:
        for i in next_index:
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            user = USERS[i % len(USERS)]
            event = TaskCreated(user_id=user, task_id=uuid.uuid4(), title=f"t{i}")
            async with session_factory() as session:
                await append_to_outbox(session, [event], topic=topic)
                # Taken just before COMMIT: a starved writer cannot shorten the measurement.
                committed[str(event.event_id)] = time.time()
                await session.commit()

    try:
        await asyncio.gather(*(writer() for _ in range(workers)))
    finally:
        await engine.dispose()
    return {"elapsed": time.monotonic() - start, "committed": committed}


def measure(events: int, rate: int, seconds: float, batch: int) -> dict[str, Any]:
    """Ceiling, drain and latency in a database of the run's own."""
    with bench_database("bench_relay") as url:
        return asyncio.run(_measure(url, events, rate, seconds, batch))


async def _measure(url: str, events: int, rate: int, seconds: float, batch: int) -> dict[str, Any]:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    results: dict[str, Any] = {"events": events, "batch": batch}
    drain_topic, bare_topic, live_topic = (
        f"bench-relay-{name}-{uuid.uuid4().hex[:6]}" for name in ("drain", "bare", "live")
    )
    settings = settings_for(url, servers, drain_topic, batch)
    for topic in (drain_topic, bare_topic, live_topic):
        await create_topic(servers, topic, settings.relay_topic_partitions)
    await fill_outbox(url, drain_topic, events)
    messages = await stored_messages(url)
    stock = await ceiling(settings, messages, bare_topic, cached_hash=False)
    tuned = await ceiling(settings, messages, bare_topic, cached_hash=True)
    in_txns = await ceiling(settings, messages, bare_topic, cached_hash=True, transactional=True)
    drained = await drain(settings, events)
    results |= {
        "ceiling_stock_per_s": round(stock),
        "ceiling_cached_hash_per_s": round(tuned),
        "ceiling_transactional_per_s": round(in_txns),
        "drain_vs_transactional": round(drained / in_txns, 2),
        "drain_per_s": round(drained),
        "drain_vs_stock": round(drained / stock, 2),
        "drain_vs_cached_hash": round(drained / tuned, 2),
    }
    live = settings.model_copy(update={"kafka_topic": live_topic})
    results["latency"] = await latency(live, rate=rate, seconds=seconds)
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        url, topic, rate, seconds = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
        print(json.dumps(asyncio.run(write_steadily(url, topic, rate, seconds))))
        return
    configure_logging(RelaySettings(log_level="WARNING", log_json=False), service="bench")
    tune_gc()  # as `python -m relay` does: the drain and the latency run its loop in-process
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    r = measure(args.events, args.rate, args.seconds, args.batch)
    lat = r["latency"]
    print(f"| measurement (this machine, {os.cpu_count()} cores) | value |")
    print("|---|---|")
    n = r["events"]
    print(f"| ceiling: bare aiokafka producer, {n} events | {r['ceiling_stock_per_s']} ev/s |")
    print(f"| ceiling: the same + cached key hash | {r['ceiling_cached_hash_per_s']} ev/s |")
    txn = r["ceiling_transactional_per_s"]
    print(f"| ceiling: the same, one transaction per batch | {txn} ev/s |")
    drained = r["drain_per_s"]
    print(f"| relay drain of {n} rows (stale statistics), batch {r['batch']} | {drained} ev/s |")
    print(f"| drain / bare producer | {r['drain_vs_stock']:.0%} |")
    print(f"| drain / bare producer with cached hash | {r['drain_vs_cached_hash']:.0%} |")
    print(f"| drain / bare transactional producer | {r['drain_vs_transactional']:.0%} |")
    print(f"| commit-to-ack p50 at {lat['rate']} ev/s | {lat['p50_ms']} ms |")
    print(f"| commit-to-ack p99 at {lat['rate']} ev/s | {lat['p99_ms']} ms |")
    print(f"| commit-to-ack max / events not acked | {lat['max_ms']} ms / {lat['missing']} |")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
