"""The system benchmark, one command: `python -m bench.run` (or `python bench/run.py`).

Measures the ceilings of this machine (pgbench running our exact statement, and the same work as
a four-statement transaction; a bare FastAPI
endpoint, one idempotent Kafka producer) and then our system at the same concurrencies, in the
same run, and prints our numbers as ratios of those ceilings. Needs PostgreSQL and Kafka
(`eval "$(scripts/services.sh env)"`), `wrk` and `pgbench`. Writes `bench/results/latest.json`
and `bench/results/latest.png`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import kafka_ceiling, peers, pgbench_ceiling, relay_scale
from bench.api_load import get_tasks, post_tasks
from bench.e2e_latency import measure as e2e_measure
from bench.loadgen import LoadResult, Wrk, require_wrk
from bench.login_storm import login_throughput, reads_quiet_and_in_storm
from bench.machine import busy_percent, describe
from bench.report import plot, print_report
from bench.resources import scheduler_peak_rss_kib
from bench.stack import PASSWORD, bare_api, kafka_servers, stack

RESULTS = Path(__file__).resolve().parent / "results"


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per measured point")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated connections")
    parser.add_argument("--workers", type=int, default=1, help="API_WORKERS")
    parser.add_argument("--pool-size", type=int, default=16, help="DB_POOL_SIZE per worker")
    parser.add_argument("--max-overflow", type=int, default=0, help="DB_MAX_OVERFLOW per worker")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the services")
    parser.add_argument(
        "--sweep", action="store_true", help="also try workers x pool sizes (POST, top concurrency)"
    )
    parser.add_argument(
        "--relays",
        default="",
        help="also measure drain and latency with these relay process counts, e.g. 1,2,4",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also run bench.peers: our relay beside Debezium (needs wal_level=logical)",
    )
    parser.add_argument("--peer-runs", type=int, default=3, help="alternating runs of --peers")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def _points(results: list[LoadResult]) -> list[dict[str, float | int]]:
    return [r.as_dict() for r in results]


def measure_ceilings(args: argparse.Namespace, levels: list[int], logs: Path) -> dict[str, Any]:
    print("ceiling: pgbench, the API's statement (task + outbox + NOTIFY)", flush=True)
    pg = pgbench_ceiling.measure(levels, round(args.seconds))
    print("ceiling: pgbench, the same work as BEGIN; 2 INSERTs; NOTIFY; END", flush=True)
    pg_multi = pgbench_ceiling.measure(levels, round(args.seconds), script="multi_statement")
    print("ceiling: pgbench, GET /tasks' statement (owner, counts, a page of 20)", flush=True)
    pg_list = pgbench_ceiling.measure(levels, round(args.seconds), script="list")
    print("ceiling: Kafka producer", flush=True)
    kafka = kafka_ceiling.measure(kafka_servers(), seconds=min(args.seconds, 5.0))
    print(f"ceiling: bare FastAPI, {args.workers} worker(s)", flush=True)
    with bare_api(workers=args.workers, log_dir=logs) as url:
        bare_post = [post_tasks(url, token="", connections=c, seconds=args.seconds) for c in levels]
        bare_get = [get_tasks(url, token="", connections=c, seconds=args.seconds) for c in levels]
    return {
        "pgbench": pg,
        "pgbench_multi_statement": pg_multi,
        "pgbench_list": pg_list,
        "kafka_producer": kafka,
        "bare_post": _points(bare_post),
        "bare_get": _points(bare_get),
    }


def measure_system(args: argparse.Namespace, levels: list[int], logs: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with stack(
        workers=args.workers,
        pool_size=args.pool_size,
        max_overflow=args.max_overflow,
        log_dir=logs,
        log_level=args.log_level,
    ) as s:
        writer, reader = s.user(), s.user(tasks=20)
        out["rss_idle_kib"] = {n: svc.rss_kib() for n, svc in s.system.services.items()}
        print("system: POST /tasks", flush=True)
        posts = []
        for c in levels:
            run = Wrk(
                f"{s.api_url}/tasks",
                connections=c,
                seconds=args.seconds,
                method="POST",
                body='{"title": "bench task"}',
                token=writer.token,
            )
            time.sleep(args.seconds / 2)
            rss = {n: svc.rss_kib() for n, svc in s.system.services.items()}
            posts.append(run.result())
        out["rss_load_kib"] = rss  # sampled halfway through POST at the top concurrency
        out["rss_load_kib"]["scheduler run-once (peak)"] = scheduler_peak_rss_kib(
            s.env, "2030-01-01"
        )
        out["post"] = _points(posts)
        print("system: GET /tasks (20 tasks a page)", flush=True)
        out["get"] = _points(
            [
                get_tasks(s.api_url, token=reader.token, connections=c, seconds=args.seconds)
                for c in levels
            ]
        )
        print("system: end-to-end latency (HTTP response -> event on Kafka)", flush=True)
        probe = s.user()
        measure_e2e = partial(
            e2e_measure,
            api_url=s.api_url,
            token=probe.token,
            servers=s.kafka_servers,
            topic=s.event_topic(),
            seconds=args.seconds,
        )
        out["e2e_quiet"] = measure_e2e()
        background = Wrk(
            f"{s.api_url}/tasks",
            connections=8,
            seconds=args.seconds + 1,
            method="POST",
            body='{"title": "background"}',
            token=writer.token,
        )
        out["e2e_under_load"] = measure_e2e()
        out["e2e_background_load"] = background.result().as_dict()
        print("system: logins and reads during a login storm", flush=True)
        out["login"] = login_throughput(
            s.api_url, email=writer.email, password=PASSWORD, connections=8, seconds=args.seconds
        ).as_dict()
        quiet, stormy, storm = reads_quiet_and_in_storm(
            s.api_url,
            token=reader.token,
            email=writer.email,
            password=PASSWORD,
            read_connections=8,
            storm_connections=8,
            seconds=args.seconds,
        )
        out["get_quiet"], out["get_in_storm"], out["storm"] = (
            quiet.as_dict(),
            stormy.as_dict(),
            storm.as_dict(),
        )
    return out


def sweep(args: argparse.Namespace, top: int, logs: Path) -> list[dict[str, Any]]:
    rows = []
    for workers in (1, 2, 3):
        for pool in (8, 16, 32):
            with stack(
                workers=workers,
                pool_size=pool,
                max_overflow=0,
                log_dir=logs,
                log_level=args.log_level,
            ) as s:
                point = post_tasks(
                    s.api_url, token=s.user().token, connections=top, seconds=args.seconds
                )
            print(f"sweep: workers={workers} pool={pool}: {point.rps} req/s", flush=True)
            rows.append({"workers": workers, "pool_size": pool, **point.as_dict()})
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    require_wrk()
    levels = [int(c) for c in args.concurrency.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    report: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": describe(),
        "config": {
            "seconds_per_point": args.seconds,
            "concurrency": levels,
            "api_workers": args.workers,
            "db_pool_size": args.pool_size,
            "db_max_overflow": args.max_overflow,
            "log_level": args.log_level,
            "service_logs": str(logs),
        },
    }
    report["ceilings"] = measure_ceilings(args, levels, logs)
    report["system"] = measure_system(args, levels, logs)
    if args.sweep:
        report["sweep"] = sweep(args, max(levels), logs)
    if args.relays:
        print("system: relays scaled out (drain, commit-to-visible latency)", flush=True)
        report["relays"] = relay_scale.measure(
            [int(n) for n in args.relays.split(",")], events=50_000, rate=500, seconds=args.seconds
        )
        for point in report["relays"]:
            lat = point["latency"]
            print(
                f"  {point['relays']} relays: drain {point['drain_per_s']} events/s,"
                f" p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms at {lat['rate']} events/s"
            )
    if args.peers:
        report["peers"] = peers.measure(peers.arguments(["--runs", str(args.peer_runs)]))
    report["machine"]["busy_percent_after"] = busy_percent()
    report["machine"]["load_average_after"] = list(Path("/proc/loadavg").read_text().split()[:3])
    path = args.out / "latest.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_report(report)
    plot(report, args.out / "latest.png")
    print(f"\nwrote {path} and {args.out / 'latest.png'}; service logs in {logs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
