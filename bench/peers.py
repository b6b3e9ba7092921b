"""Our relay beside the one a user would pick instead, in one run: Debezium's outbox connector.

Both read the same `outbox` table of one PostgreSQL (`wal_level=logical`) into the same broker,
one after the other, their order alternating from run to run. For each:

- start: process spawned until it is ready (our /healthz; the connector's task RUNNING);
- cold drain: a backlog of N rows committed while it was down (as an outage leaves), drained by a
  freshly started process; the rate from its first record on Kafka to its last;
- warm drain: N more rows committed at once into the running process;
- latency at R events/s: a writer process commits one event per transaction; latency is the
  broker's append time (the topics use LogAppendTime) minus the writer's clock once COMMIT
  returned; Debezium with its default 500 ms poll and tuned to 10 ms;
- CPU seconds (user + system, from /proc) of the relay's process in each phase, and its
  resident memory after the phases and at its peak.

A bare idempotent producer (`bench.kafka_ceiling`) measured in the same run is the ceiling.
Prints the median and the spread (min-max) of the runs; writes bench/results/peers.json.

    eval "$(scripts/services.sh env)"   # PostgreSQL restarted with wal_level=logical
    .venv/bin/python -m bench.peers --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/peers.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.core.db import make_engine, make_session_factory
from app.core.events import TaskCreated
from app.core.outbox import append_to_outbox
from bench import debezium, kafka_ceiling
from bench.database import bench_database, required_env
from bench.relay_drain import USERS, insert_events
from bench.stats import percentile
from tests.support.ports import free_port
from tests.support.processes import PYTHON, Service, base_env, http_ok, relay_argv

RESULTS = Path(__file__).resolve().parent / "results"
PARTITIONS = 6  # the relay's default for the topics it creates
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the shared ground: topics, rows, the records' append times, a process's CPU and memory ---


async def _create_topic(servers: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        # The broker stamps each record as it appends it: one clock for both relays.
        config = {"message.timestamp.type": "LogAppendTime"}
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1, topic_configs=config)])
    finally:
        await admin.close()


def new_topic(servers: str, phase: str) -> str:
    topic = f"bench-peers-{phase}-{uuid.uuid4().hex[:6]}"
    asyncio.run(_create_topic(servers, topic))
    return topic


async def _fill(url: str, topic: str, events: int) -> None:
    engine = make_engine(url)
    try:
        await insert_events(engine, topic, events)  # one transaction: a backlog appears at once
    finally:
        await engine.dispose()
    # Fresh statistics for both relays alike (Debezium reads the WAL, not the table).
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("ANALYZE outbox")


def fill(url: str, topic: str, events: int) -> None:
    """Commit `events` outbox rows for `topic` in one transaction."""
    asyncio.run(_fill(url, topic, events))


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


async def _appended(servers: str, topic: str, expected: int, within: float) -> dict[str, int]:
    """Event id -> broker append time (epoch ms) of every record, once `expected` are there."""
    # "earliest": a reset the consumer starts on its own when assigned must not land after our
    # seek to the beginning and move it to the end (seen: a phase that read no record at all).
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=1 << 26,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        deadline = time.monotonic() + within
        while sum((await consumer.end_offsets(tps)).values()) < expected:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        stamps: dict[str, int] = {}
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for m in messages:
                    stamps.setdefault(json.loads(m.value)["event_id"], m.timestamp)
        return stamps
    finally:
        await consumer.stop()


def appended(servers: str, topic: str, expected: int, timeout: float = 300) -> dict[str, int]:
    """Wait until `expected` records are on `topic` (or `timeout`); their append times."""
    return asyncio.run(_appended(servers, topic, expected, timeout))


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mib(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak (VmRSS, VmHWM)."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {
        "rss_mib": round(int(status["VmRSS"].split()[0]) / 1024, 1),
        "peak_rss_mib": round(int(status["VmHWM"].split()[0]) / 1024, 1),
    }


def drain_numbers(stamps: dict[str, int], events: int, since: float) -> dict[str, float]:
    """Rate from the first record's append to the last; `since` (epoch s) to each of them."""
    if not stamps:
        return {"drained": 0, "per_s": 0.0}
    first, last = min(stamps.values()) / 1000, max(stamps.values()) / 1000
    return {
        "drained": len(stamps),
        "missing": events - len(stamps),
        "per_s": round(len(stamps) / max(last - first, 1e-3)),
        "first_after_s": round(first - since, 2),
        "last_after_s": round(last - since, 2),
    }


# --- the writer at a steady rate, in a process of its own (as the API would be) ---


async def write_steadily(url: str, topic: str, rate: int, seconds: float) -> dict[str, float]:
    """One event per transaction at `rate` a second; event id -> epoch s when COMMIT returned.

    A fixed set of writers follows the schedule; on a starved machine the rate drops (and is
    reported) rather than requests piling up.
    """
    workers = 16
    engine = make_engine(url, pool_size=workers, max_overflow=0)
    session_factory = make_session_factory(engine)
    committed: dict[str, float] = {}
    start = time.monotonic()
    next_index = iter(range(int(rate * seconds)))

    async def writer() -> None:
        for i in next_index:
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            event = TaskCreated(user_id=USERS[i % len(USERS)], task_id=uuid.uuid4(), title=f"t{i}")
            async with session_factory() as session:
                await append_to_outbox(session, [event], topic=topic)
                await session.commit()
                committed[str(event.event_id)] = time.time()

    try:
        await asyncio.gather(*(writer() for _ in range(workers)))
    finally:
        await engine.dispose()
    return {"_elapsed": time.monotonic() - start, **committed}


def latency(url: str, servers: str, *, rate: int, seconds: float) -> dict[str, float]:
    """Commit-to-append latency of whichever relay is running, at `rate` events/s."""
    topic = new_topic(servers, "live")
    out = subprocess.run(
        [PYTHON, "-m", "bench.peers", "--writer", url, topic, str(rate), str(seconds)],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    committed: dict[str, float] = json.loads(out)
    elapsed = committed.pop("_elapsed")
    stamps = appended(servers, topic, len(committed), timeout=60)
    if len(stamps) < len(committed):
        print(f"  latency: {len(committed) - len(stamps)} events never reached {topic}", flush=True)
    warm = sorted(committed.items(), key=lambda item: item[1])[rate:]  # skip the first second
    samples = [stamps[e] - t * 1000 for e, t in warm if e in stamps]
    return {
        "rate": round(len(committed) / elapsed, 1),
        "events": len(committed),
        "missing": len(committed) - len(stamps),
        "p50_ms": round(percentile(samples, 50), 1),
        "p99_ms": round(percentile(samples, 99), 1),
        "max_ms": round(max(samples, default=float("nan")), 1),
    }


# --- each relay through the same phases ---


class Phases:
    """Runs the phases against one running relay process and notes its CPU per phase."""

    def __init__(self, url: str, servers: str, pid: int, args: argparse.Namespace) -> None:
        self.url, self.servers, self.pid, self.args = url, servers, pid, args
        self.result: dict[str, Any] = {}

    def timed(self, name: str, work: Callable[[], dict[str, Any]]) -> None:
        before = cpu_seconds(self.pid)
        numbers = work()
        numbers["cpu_s"] = round(cpu_seconds(self.pid) - before, 2)
        self.result[name] = numbers
        print(f"  {name}: {numbers}", flush=True)

    def warm_drain(self) -> None:
        topic = new_topic(self.servers, "warm")
        n = self.args.events

        def work() -> dict[str, Any]:
            fill(self.url, topic, n)
            committed = time.time()
            return drain_numbers(appended(self.servers, topic, n), n, committed)

        self.timed("warm_drain", work)

    def latency(self, name: str) -> None:
        a = self.args
        self.timed(name, lambda: latency(self.url, self.servers, rate=a.rate, seconds=a.seconds))


def ours(args: argparse.Namespace, servers: str, logs: Path) -> dict[str, Any]:
    """Our relay (`python -m relay`, defaults) through the phases, on a database of its own."""
    with bench_database("bench_peers_ours") as url:
        cold = new_topic(servers, "cold")
        fill(url, cold, args.events)
        port = free_port()
        env = base_env(
            DATABASE_URL=url,
            KAFKA_BOOTSTRAP_SERVERS=servers,
            KAFKA_TOPIC=cold,
            RELAY_METRICS_PORT=str(port),
        )
        relay = Service(
            "relay", relay_argv(), env, logs, http_ok(f"http://127.0.0.1:{port}/healthz")
        )
        spawned = time.time()
        relay.start()
        try:
            ready = relay.wait_healthy(60)
            phases = Phases(url, servers, relay.pid, args)
            phases.result["start_s"] = round(ready, 2)
            phases.timed(
                "cold_drain",
                lambda: drain_numbers(appended(servers, cold, args.events), args.events, spawned),
            )
            # Its CPU from its start, as for the JVM: starting is part of a cold drain's cost.
            phases.result["cold_drain"]["cpu_s"] = round(cpu_seconds(relay.pid), 2)
            phases.warm_drain()
            phases.latency("latency")
            phases.result |= memory_mib(relay.pid)
        finally:
            relay.stop()
    return phases.result


def peer(args: argparse.Namespace, servers: str, logs: Path) -> dict[str, Any]:
    """Debezium on Kafka Connect standalone through the same phases, on a database of its own."""
    libs = debezium.classpath()
    with bench_database("bench_peers_dbz") as url:
        slot, publication = f"bench_{uuid.uuid4().hex[:8]}", "bench_outbox"
        debezium.prepare_database(url, slot=slot, publication=publication)
        try:
            cold = new_topic(servers, "cold")
            fill(url, cold, args.events)
            config = debezium.connector_config(url, slot=slot, publication=publication)
            spawned = time.time()
            work = Path(tempfile.mkdtemp(prefix="connect-", dir=logs))
            with debezium.connect(config, kafka_servers=servers, work_dir=work, libs=libs) as c:
                phases = Phases(url, servers, c.pid, args)
                phases.result["start_s"] = round(c.ready_after_s, 2)
                phases.timed(
                    "cold_drain",
                    lambda: drain_numbers(
                        appended(servers, cold, args.events), args.events, spawned
                    ),
                )
                phases.result["cold_drain"]["cpu_s"] = round(cpu_seconds(c.pid), 2)
                phases.warm_drain()
                phases.latency("latency")
                c.reconfigure(**{"poll.interval.ms": str(debezium.TUNED_POLL_MS)})
                phases.latency("latency_tuned")
                phases.result |= memory_mib(c.pid)
        finally:
            debezium.drop_slot(url, slot)
    return phases.result


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """`args.runs` alternating runs of both relays plus the producer ceiling; all raw numbers."""
    servers = required_env("KAFKA_BOOTSTRAP_SERVERS")
    _require_logical()
    debezium.classpath()  # a first run fetches the jars here, before anything is timed
    logs = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    runs: list[dict[str, Any]] = []
    for i in range(args.runs):
        run: dict[str, Any] = {}
        print(f"run {i + 1}/{args.runs}: bare producer", flush=True)
        run["ceiling"] = kafka_ceiling.measure(servers, seconds=5.0)
        order = [("ours", ours), ("debezium", peer)]
        for name, relay in order if i % 2 == 0 else order[::-1]:
            print(f"run {i + 1}/{args.runs}: {name}", flush=True)
            run[name] = relay(args, servers, logs)
        runs.append(run)
    return {
        "versions": debezium.versions() | {"jvm": " ".join(debezium.JVM_OPTIONS[:2])},
        "events": args.events,
        "rate": args.rate,
        "seconds": args.seconds,
        "logs": str(logs),
        "runs": runs,
    }


def _require_logical() -> None:
    url = _libpq(required_env("DATABASE_URL"))
    with psycopg.connect(url) as conn:
        level = conn.execute("SHOW wal_level").fetchone()
    if level is None or level[0] != "logical":
        msg = "Debezium needs wal_level=logical: restart PostgreSQL with it (docs/bench.md)"
        raise SystemExit(msg)


# --- the report ---

#: (label, path into one relay's numbers, unit, higher is better)
ROWS: tuple[tuple[str, tuple[str, ...], str, bool], ...] = (
    ("start (spawn to ready)", ("start_s",), "s", False),
    ("cold drain of the backlog", ("cold_drain", "per_s"), "ev/s", True),
    ("  first record after spawn", ("cold_drain", "first_after_s"), "s", False),
    ("  CPU (incl. start)", ("cold_drain", "cpu_s"), "s", False),
    ("warm drain", ("warm_drain", "per_s"), "ev/s", True),
    ("  CPU", ("warm_drain", "cpu_s"), "s", False),
    ("latency p50, default", ("latency", "p50_ms"), "ms", False),
    ("latency p99, default", ("latency", "p99_ms"), "ms", False),
    ("latency p50, tuned poll", ("latency_tuned", "p50_ms"), "ms", False),
    ("latency p99, tuned poll", ("latency_tuned", "p99_ms"), "ms", False),
    ("  CPU during latency, default", ("latency", "cpu_s"), "s", False),
    ("  CPU during latency, tuned poll", ("latency_tuned", "cpu_s"), "s", False),
    ("resident memory after", ("rss_mib",), "MiB", False),
    ("peak resident memory", ("peak_rss_mib",), "MiB", False),
)


#: The issue's targets against the peer: (name, ours, Debezium's, limit, ratio must be below).
TARGETS = (
    (
        "our drain of a backlog after an outage >= warm Debezium's",
        ("cold_drain", "per_s"),
        ("warm_drain", "per_s"),
        1.0,
        False,
    ),
    (
        "our latency p99 <= 0.7x tuned Debezium's",
        ("latency", "p99_ms"),
        ("latency_tuned", "p99_ms"),
        0.7,
        True,
    ),
)


def _get(numbers: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = numbers
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return None if math.isnan(value) else float(value)  # a phase that saw no record


def _spread(values: list[float], digits: int | None = None) -> str:
    if not values:
        return "-"
    mid = statistics.median(values)
    if digits is None:
        digits = 0 if mid >= 100 else 1
    return f"{mid:,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def summary(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of (measurement, ours, Debezium, ours / Debezium): medians (min-max) of the runs."""
    runs = report["runs"]
    rows = []
    for label, path, unit, _higher in ROWS:
        # Our relay has no poll to tune: its one latency run stands beside both of Debezium's.
        ours_path = ("latency", *path[1:]) if path[0] == "latency_tuned" else path
        pairs = [(_get(r["ours"], ours_path), _get(r["debezium"], path)) for r in runs]
        o = [a for a, _ in pairs if a is not None]
        d = [b for _, b in pairs if b is not None]
        ratios = [a / b for a, b in pairs if a is not None and b]  # run by run
        rows.append((f"{label} [{unit}]", _spread(o), _spread(d), _spread(ratios, 2)))
    return rows


def print_report(report: dict[str, Any]) -> None:
    """The side-by-side table, each cell the median of the runs and their range."""
    runs, v = report["runs"], report["versions"]
    print(
        f"\nOur relay beside Debezium {v['debezium']} (Kafka Connect {v['kafka']} standalone), "
        f"{len(runs)} alternating runs, median (min-max); {report['events']:,} events a drain, "
        f"{report['rate']} events/s for {report['seconds']} s; JVM {v.get('jvm', '?')}"
    )
    header = f"{'measurement':<38}{'ours':>26}{'Debezium':>26}{'ours / Debezium':>24}"
    print(header)
    print("-" * len(header))
    for label, ours_, theirs, ratio in summary(report):
        print(f"{label:<38}{ours_:>26}{theirs:>26}{ratio:>24}")
    ceiling = [r["ceiling"]["msgs_per_s"] for r in runs]
    print(f"{'ceiling: bare idempotent producer [ev/s]':<38}{_spread(ceiling):>26}")
    for name in ("ours", "debezium"):
        for phase in ("cold_drain", "warm_drain"):
            shares = [r[name][phase]["per_s"] / r["ceiling"]["msgs_per_s"] for r in runs]
            print(f"  {name} {phase.replace('_', ' ')} / ceiling: {_spread(shares, 2)}")
    print("Targets (the median of the run-by-run ratios):")
    for name, ours_path, theirs_path, limit, below in TARGETS:
        pairs = [(_get(r["ours"], ours_path), _get(r["debezium"], theirs_path)) for r in runs]
        ratios = [a / b for a, b in pairs if a is not None and b]
        mid = statistics.median(ratios) if ratios else math.nan
        ok = mid <= limit if below else mid >= limit
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {_spread(ratios, 2)}")


def arguments(argv: list[str]) -> argparse.Namespace:
    """The command line of `python -m bench.peers` (also what `bench.run --peers` passes)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="alternating runs (>= 3 for a spread)")
    parser.add_argument("--events", type=int, default=100_000, help="rows in each drain")
    parser.add_argument("--rate", type=int, default=500, help="events/s of the latency phase")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of a latency phase")
    parser.add_argument("--out", type=Path, default=RESULTS / "peers.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--writer":
        url, topic, rate, seconds = argv[1], argv[2], int(argv[3]), float(argv[4])
        print(json.dumps(asyncio.run(write_steadily(url, topic, rate, seconds))))
        return 0
    args = arguments(argv)
    report = measure(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    print(f"\nwrote {args.out}; logs in {report['logs']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
