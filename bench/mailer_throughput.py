"""Mailer throughput: digests through `python -m mailer` into an SMTP sink adding 20 ms a message.

Run from the repository root with PostgreSQL and Kafka up (`eval "$(scripts/services.sh env)"`):

    .venv/bin/python -m bench.mailer_throughput --count 10000 --serial-count 1000

It creates a database and a topic of its own, produces the digests once, then runs a fresh mailer
process (a new consumer group, an empty `processed_events`) per concurrency level and times the
emails from the first to the last arrival. The same run measures the ceilings beside it: Kafka
consumption alone and PostgreSQL claim transactions alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import make_url, text

from app.core.db import make_engine
from mailer.dedupe import PostgresDedupeStore
from tests.support.digests import make_digest
from tests.support.migrations import create_database, drop_database, upgrade
from tests.support.smtp import RecordingHandler, SmtpSink

ROOT = Path(__file__).resolve().parent.parent
PROFILED = """
import cProfile, time, runpy
profile = cProfile.Profile(time.process_time)
profile.enable()
try:
    runpy.run_module("mailer", run_name="__main__")
finally:
    profile.disable()
    profile.dump_stats({target!r})
"""


@dataclass(frozen=True)
class Point:
    label: str
    count: int
    seconds: float
    cpu_seconds: float | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


async def produce(servers: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        for start in range(0, count, 500):
            batch = [make_digest() for _ in range(min(500, count - start))]
            futures = [
                await producer.send(topic, d.model_dump_json().encode(), key=d.key.encode())
                for d in batch
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def kafka_ceiling(servers: str, topic: str, count: int) -> Point:
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, auto_offset_reset="earliest")
    started = time.perf_counter()  # assigned by hand: no group join in the timing
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        seen = 0
        while seen < count:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                seen += len(records)
        return Point("Kafka consume alone", seen, time.perf_counter() - started)
    finally:
        await consumer.stop()


async def postgres_ceiling(url: str, count: int, concurrency: int) -> Point:
    engine = make_engine(url, pool_size=concurrency, max_overflow=0)
    store = PostgresDedupeStore(engine)
    queue = [uuid.uuid4() for _ in range(count)]

    async def worker() -> None:
        while queue:
            event_id = queue.pop()
            async with store.claim(event_id) as claim:
                assert claim is not None
                await claim.commit()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE processed_events"))
    await engine.dispose()
    return Point(f"PostgreSQL claim+commit alone, {concurrency} at once", count, seconds)


async def mailer_run(
    *,
    url: str,
    servers: str,
    topic: str,
    sink: SmtpSink[CountingHandler],
    count: int,
    concurrency: int,
    pool: int,
) -> Point:
    sink.handler.clear()
    engine = make_engine(url, pool_size=1)
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE processed_events"))
    await engine.dispose()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": servers,
        "KAFKA_TOPIC": topic,
        "KAFKA_DLQ_TOPIC": f"{topic}.dlq",
        "MAILER_GROUP_ID": f"bench-{uuid.uuid4().hex[:6]}",
        "MAILER_CONCURRENCY": str(concurrency),
        "MAILER_HEALTH_PORT": "0",
        "SMTP_PORT": str(sink.port),
        "SMTP_POOL_SIZE": str(pool),
        "LOG_LEVEL": "WARNING",
    }
    # BENCH_PROFILE=path: a CPU-time (not wall-time) profile of the mailer, for pstats.
    command = ["-m", "mailer"]
    if target := os.environ.get("BENCH_PROFILE"):
        command = ["-c", PROFILED.format(target=target)]
    child = await asyncio.create_subprocess_exec(sys.executable, *command, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if sink.handler.received >= count:
                break
            await asyncio.sleep(0.05)
        cpu = _cpu_seconds(child.pid)
    finally:
        child.terminate()
        await asyncio.wait_for(child.wait(), 60)
    first, last = sink.handler.first_at, sink.handler.last_at
    received = sink.handler.received
    # The first arrival starts the clock, so it does not count in the rate.
    return Point(
        f"mailer, concurrency {concurrency}, {pool} SMTP connection(s)",
        received - 1,
        (last or 0.0) - (first or 0.0),
        cpu,
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (Linux), to tell CPU cost from waiting."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CountingHandler(RecordingHandler):
    """Counts and timestamps arrivals instead of keeping 10,000 parsed messages."""

    def __init__(self, *, delay: float) -> None:
        super().__init__(delay=delay)
        self.clear()

    def clear(self) -> None:
        self.received = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        await asyncio.sleep(self.delay)
        now = time.perf_counter()
        self.first_at = self.first_at or now
        self.last_at = now
        self.received += 1
        return "250 2.0.0 Accepted"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--serial-count", type=int, default=1_000, help="digests at concurrency 1")
    parser.add_argument("--delay", type=float, default=0.020, help="SMTP sink seconds a message")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pool", type=int, default=16, help="SMTP_POOL_SIZE at --concurrency")
    args = parser.parse_args()

    admin_url = os.environ["DATABASE_URL"]
    servers = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    database = f"bench_mailer_{uuid.uuid4().hex[:8]}"
    url = make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    topic = f"bench-mailer-{uuid.uuid4().hex[:8]}"
    create_database(admin_url, database)
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    sink = SmtpSink(CountingHandler(delay=args.delay))
    try:
        await asyncio.to_thread(upgrade, url)  # Alembic's env.py runs its own event loop
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        await produce(servers, topic, args.count)
        sink.start()
        points = [
            await kafka_ceiling(servers, topic, args.count),
            await postgres_ceiling(url, args.count, args.concurrency),
            await mailer_run(
                url=url, servers=servers, topic=topic, sink=sink,
                count=args.serial_count, concurrency=1, pool=1,
            ),
            await mailer_run(
                url=url, servers=servers, topic=topic, sink=sink,
                count=args.count, concurrency=args.concurrency, pool=args.pool,
            ),
        ]  # fmt: skip
    finally:
        sink.stop()
        await admin.delete_topics([topic, f"{topic}.dlq"])
        await admin.close()
        drop_database(admin_url, database)

    print(f"\nSMTP sink: {args.delay * 1000:.0f} ms a message; machine: {os.cpu_count()} CPU(s)")
    print(f"{'measurement':<58} {'messages':>8} {'seconds':>8} {'per s':>8} {'CPU ms/msg':>10}")
    for p in points:
        cpu = f"{p.cpu_seconds * 1000 / max(p.count, 1):>10.2f}" if p.cpu_seconds else f"{'':>10}"
        print(f"{p.label:<58} {p.count:>8} {p.seconds:>8.2f} {p.rate:>8.0f} {cpu}")
    print(f"load average during the run: {os.getloadavg()}")


if __name__ == "__main__":
    asyncio.run(main())
