"""Relays scaled out: drain throughput and commit-to-Kafka latency with 1, 2 and 4 relays.

Each point runs real `python -m relay` processes sharing one database's outbox by partition
leases, in a database of its own:

1. drain: once the relays have split the partitions, one transaction commits a backlog of N
   rows (written after N published ones were ANALYZEd: stale statistics, as after an outage);
   the rate is N over the time from that COMMIT to the last row's `published_at`;
2. latency: a writer process commits events at a steady rate (one a transaction); a
   `read_committed` consumer notes when each becomes visible on Kafka; commit-to-visible
   latency per event (one machine, one clock).

    eval "$(scripts/services.sh env)"
    .venv/bin/python -m bench.relay_scale --relays 1,2,4 --events 100000 --rate 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/relay_scale.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import insert, text

from app.core.db import make_engine
from app.core.events import TaskCreated
from app.core.models import OutboxEvent
from app.core.outbox import outbox_row
from bench import relay_drain
from bench.database import bench_database
from bench.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
TOPIC_PARTITIONS = 6
OWNERS = text(
    "SELECT count(DISTINCT owner) AS owners, count(*) AS leased FROM relay_leases"
    " WHERE expires_at > now()"
)
UNPUBLISHED = text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
LAST_PUBLISHED = text("SELECT extract(epoch FROM max(published_at)) FROM outbox")


def start_relays(url: str, servers: str, topic: str, count: int, logs: Path) -> list[Any]:
    env = os.environ | {
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": servers,
        "KAFKA_TOPIC": topic,
        "RELAY_METRICS_PORT": "0",
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "true",
    }
    processes = []
    for i in range(count):
        log = (logs / f"relay-{count}-{i}.log").open("ab")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "relay"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
        )
    return processes


def stop_relays(processes: list[Any]) -> None:
    for p in processes:
        p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


async def wait_shared(url: str, relays: int, partitions: int = 32) -> None:
    engine = make_engine(url, pool_size=1)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                row = (await conn.execute(OWNERS)).one()
            if row.owners == relays and row.leased == partitions:
                await asyncio.sleep(1.0)  # one more heartbeat: the shares are fair now
                return
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    msg = f"{relays} relays did not share the partitions within 60 s"
    raise TimeoutError(msg)


def rows(topic: str, count: int, *, published: bool) -> list[dict[str, Any]]:
    users = relay_drain.USERS
    now = datetime.now(UTC)
    return [
        outbox_row(
            TaskCreated(user_id=users[i % len(users)], task_id=uuid.uuid4(), title=f"task {i}"),
            topic=topic,
        )
        | ({"published_at": now} if published else {})
        for i in range(count)
    ]


async def drain(url: str, topic: str, events: int) -> float:
    """Commit a backlog in one transaction; events/s until the last row is marked published."""
    engine = make_engine(url, pool_size=2)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE outbox SET (autovacuum_enabled = false)"))
            for start in range(0, events, 10_000):
                await conn.execute(
                    insert(OutboxEvent), rows(topic, min(10_000, events - start), published=True)
                )
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text("ANALYZE outbox"))  # statistics: all published
        async with engine.begin() as conn:
            for start in range(0, events, 10_000):
                await conn.execute(
                    insert(OutboxEvent), rows(topic, min(10_000, events - start), published=False)
                )
        committed = time.time()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                if (await conn.execute(UNPUBLISHED)).scalar_one() == 0:
                    last = float((await conn.execute(LAST_PUBLISHED)).scalar_one())
                    return events / (last - committed)
            await asyncio.sleep(0.5)
        msg = "the backlog was not drained within 300 s"
        raise TimeoutError(msg)
    finally:
        await engine.dispose()


async def latency(
    url: str, servers: str, topic: str, *, rate: int, seconds: float
) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers,
        isolation_level="read_committed",
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    seen: dict[str, float] = {}
    expected: set[str] = set()
    stop, complete = asyncio.Event(), asyncio.Event()

    async def follow() -> None:
        while not stop.is_set():
            for messages in (await consumer.getmany(timeout_ms=100)).values():
                now = time.time()
                for m in messages:
                    seen.setdefault(dict(m.headers)["event_id"].decode(), now)
            if expected and expected <= seen.keys():
                complete.set()

    try:
        tps = [TopicPartition(topic, p) for p in range(TOPIC_PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        following = asyncio.create_task(follow())
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "bench" / "relay_drain.py"),
            "--writer",
            url,
            topic,
            str(rate),
            str(seconds),
            stdout=subprocess.PIPE,
        )
        out, _ = await writer.communicate()
        written = json.loads(out)
        committed: dict[str, float] = written["committed"]
        expected.update(committed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(complete.wait(), 30)
        stop.set()
        await following
    finally:
        await consumer.stop()
    warm = sorted(committed.items(), key=lambda item: item[1])[rate:]  # skip the first second
    samples = [(seen[eid] - t) * 1000 for eid, t in warm if eid in seen]
    return {
        "rate": round(len(committed) / written["elapsed"], 1),
        "p50_ms": round(percentile(samples, 50), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "missing": len(set(committed) - set(seen)),
    }


async def point(
    url: str, servers: str, relays: int, *, events: int, rate: int, seconds: float, logs: Path
) -> dict[str, Any]:
    drain_topic, live_topic = (f"bench-scale-{n}-{uuid.uuid4().hex[:6]}" for n in ("d", "l"))
    for topic in (drain_topic, live_topic):
        await relay_drain.create_topic(servers, topic, TOPIC_PARTITIONS)
    processes = start_relays(url, servers, drain_topic, relays, logs)
    try:
        await wait_shared(url, relays)
        drained = await drain(url, drain_topic, events)
    finally:
        stop_relays(processes)
    processes = start_relays(url, servers, live_topic, relays, logs)
    try:
        await wait_shared(url, relays)
        lat = await latency(url, servers, live_topic, rate=rate, seconds=seconds)
    finally:
        stop_relays(processes)
    return {"relays": relays, "drain_per_s": round(drained), "latency": lat}


def measure(relays: list[int], *, events: int, rate: int, seconds: float) -> list[dict[str, Any]]:
    """One point per relay count, each in a database of its own."""
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    logs = Path(tempfile.mkdtemp(prefix="bench-relays-"))
    results = []
    for n in relays:
        with bench_database(f"bench_scale_{n}") as url:
            results.append(
                asyncio.run(
                    point(url, servers, n, events=events, rate=rate, seconds=seconds, logs=logs)
                )
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relays", default="1,2,4")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.relays.split(",")]
    results = measure(counts, events=args.events, rate=args.rate, seconds=args.seconds)
    print(f"| relays (processes, {os.cpu_count()} cores) | drain ev/s | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for r in results:
        lat = r["latency"]
        print(
            f"| {r['relays']} | {r['drain_per_s']} | {lat['p50_ms']} | {lat['p99_ms']}"
            f" (at {lat['rate']} ev/s, {lat['missing']} missing) |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
