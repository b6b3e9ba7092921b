"""Time `python -m scheduler run-once` over many users, beside PostgreSQL doing the same alone.

    eval "$(scripts/services.sh env)"
    .venv/bin/python bench/digest_run.py [--users 100000] [--tasks 10] [--page-size 1000]

Needs DATABASE_URL pointing at a PostgreSQL role that may create databases; the benchmark makes
its own database (bench.database), fills it server-side, and drops it afterwards. The ceiling
is one INSERT ... SELECT that builds the same digests entirely inside PostgreSQL (no Python, no
round trips): the scheduler cannot beat it, so the ratio shows what the Python side costs.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/digest_run.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bench.database import bench_database

ROOT = Path(__file__).resolve().parent.parent

TARGET_SECONDS = 30.0
TARGET_MIB = 200.0
DAY = "2026-01-01"

SEED = [
    """INSERT INTO users (id, email, password_hash, created_at)
       SELECT gen_random_uuid(), 'user' || g || '@example.com', 'x', now()
       FROM generate_series(1, :users) AS g""",
    """INSERT INTO tasks (id, user_id, title, done, created_at, done_at)
       SELECT gen_random_uuid(), u.id, 'Task ' || k || ' of ' || u.email, k % 3 = 0,
              now() - k * interval '1 minute', CASE WHEN k % 3 = 0 THEN now() END
       FROM users AS u CROSS JOIN generate_series(1, :tasks) AS k""",
    "ANALYZE users, tasks",
]

# The same digests as scheduler/digest.py, built and inserted by PostgreSQL alone.
CEILING = """
INSERT INTO outbox (event_id, topic, key, type, payload, headers, occurred_at)
SELECT gen_random_uuid(), 'events', u.id::text, 'email.daily_digest.requested',
       jsonb_build_object(
           'event_id', gen_random_uuid(), 'type', 'email.daily_digest.requested',
           'occurred_at', now(), 'user_id', u.id, 'email', u.email,
           'stats', jsonb_build_object('total', c.total, 'done', c.done,
                                       'undone', c.total - c.done),
           'undone_titles', coalesce(o.titles, '{}')),
       jsonb_build_object('ce_time', now(), 'ce_subject', 'users/' || u.id),
       now()
FROM users AS u
CROSS JOIN LATERAL (SELECT count(*) AS total, count(*) FILTER (WHERE t.done) AS done
                    FROM tasks AS t WHERE t.user_id = u.id) AS c
CROSS JOIN LATERAL (SELECT array_agg(x.title ORDER BY x.created_at, x.id) AS titles
                    FROM (SELECT t.title, t.created_at, t.id FROM tasks AS t
                          WHERE t.user_id = u.id AND NOT t.done
                          ORDER BY t.created_at, t.id LIMIT 50) AS x) AS o
"""


def timed_sql(url: str, statements: list[str], **params: int) -> float:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    started = time.perf_counter()
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement), params)
    engine.dispose()
    return time.perf_counter() - started


def run_once(url: str, page_size: int) -> tuple[float, str]:
    env = {**os.environ, "DATABASE_URL": url, "DIGEST_PAGE_SIZE": str(page_size)}
    env["LOG_LEVEL"] = "WARNING"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "run-once", "--date", DAY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, done.stdout.strip()


def measure(*, users: int, tasks: int, page_size: int) -> dict[str, float | str]:
    """Seed a fresh database, then time the ceiling, a first run and a no-op re-run."""
    with bench_database("bench_digest") as url:
        seeded = timed_sql(url, SEED, users=users, tasks=tasks)
        ceiling = timed_sql(url, [CEILING])
        timed_sql(url, ["TRUNCATE outbox"])
        first, first_out = run_once(url, page_size)
        # ru_maxrss of the children: only the first run has finished so far.
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rerun, rerun_out = run_once(url, page_size)
    return {
        "seed_seconds": seeded,
        "ceiling_seconds": ceiling,
        "first_run_seconds": first,
        "rerun_seconds": rerun,
        "peak_rss_mib": peak_mib,
        "first_run": first_out,
        "rerun": rerun_out,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    result = measure(users=args.users, tasks=args.tasks, page_size=args.page_size)
    first, peak_mib = float(result["first_run_seconds"]), float(result["peak_rss_mib"])

    print(f"digest run: {args.users:,} users x {args.tasks} tasks, page size {args.page_size}")
    print(f"(seeding took {float(result['seed_seconds']):.1f} s)")
    print(f"{'':44}{'seconds':>9}{'users/s':>10}")
    rows = [
        ("PostgreSQL alone: one INSERT ... SELECT", float(result["ceiling_seconds"])),
        ("scheduler run-once, first run", first),
        ("scheduler run-once, re-run (all existing)", float(result["rerun_seconds"])),
    ]
    for label, seconds in rows:
        print(f"{label:44}{seconds:9.2f}{args.users / seconds:10,.0f}")
    print(f"peak RSS of the scheduler process: {peak_mib:.0f} MiB")
    print(f"first run: {result['first_run']}; re-run: {result['rerun']}")
    ok = first <= TARGET_SECONDS and peak_mib < TARGET_MIB
    verdict = "within" if ok else "OUTSIDE"
    print(f"{verdict} the target of <= {TARGET_SECONDS:.0f} s and < {TARGET_MIB:.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
