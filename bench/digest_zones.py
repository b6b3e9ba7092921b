"""The digest at each user's own midnight: users over 40 zones, beside today's single-zone run.

    eval "$(scripts/services.sh env)"
    .venv/bin/python -m bench.digest_zones [--due-users 100000] [--other-users 1000] [--tasks 10]

In ONE fresh database (bench.database) and one run, so the numbers share the machine's load:

1. `run-once --date` over the 100,000 users of the zones whose midnight is 00:00 UTC: the
   single-zone run every user got before zones existed (the baseline).
2. Users in 36 more zones are added, 40 zones in all. A tick where nobody is due: 01:00 UTC, when
   only zones at -01:00 (none populated) end their day. Its database time is every statement's
   time as the driver sees it, in this process.
3. The tick of 00:00 UTC, when the 100,000 users are due: `run-once --at` as a subprocess, the
   way the daemon would run it. Target: within 2x of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/digest_zones.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event, text

from app.core.db import make_engine, make_session_factory
from bench.database import bench_database
from scheduler.digest import DigestOptions, run_due_digests
from scheduler.due import TICK, Window

ROOT = Path(__file__).resolve().parent.parent
DAY = "2026-12-01"
DUE_AT = "2026-12-02T00:00:00Z"  # midnight of the four zones below in December
NOBODY_DUE_AT = "2026-12-02T01:00:00Z"  # midnight at -01:00 only: Azores, Cape Verde, Etc/GMT+1
IDLE_TARGET_MS = 50.0
DUE_TARGET_RATIO = 2.0

DUE_ZONES = ("UTC", "Europe/London", "Europe/Lisbon", "Africa/Abidjan")
OTHER_ZONES = (
    "Asia/Tokyo", "Asia/Seoul", "Asia/Shanghai", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dubai",
    "Europe/Moscow", "Europe/Paris", "Europe/Berlin", "Africa/Cairo", "Europe/Athens",
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires", "America/Halifax", "America/St_Johns",
    "Atlantic/South_Georgia", "Australia/Sydney", "Australia/Adelaide", "Australia/Brisbane",
    "Australia/Perth", "Pacific/Auckland", "Pacific/Chatham", "Pacific/Kiritimati",
    "Pacific/Tongatapu", "Etc/GMT+12", "Pacific/Pago_Pago", "Pacific/Marquesas", "Asia/Tehran",
    "Asia/Kabul", "Asia/Yangon",
)  # fmt: skip

SEED_USERS = """
INSERT INTO users (id, email, password_hash, created_at, timezone)
SELECT gen_random_uuid(), :prefix || g || '@example.com', 'x', now(),
       (CAST(:zones AS text[]))[1 + g % cardinality(CAST(:zones AS text[]))]
FROM generate_series(1, :users) AS g
"""
SEED_TASKS = """
INSERT INTO tasks (id, user_id, title, done, created_at, done_at)
SELECT gen_random_uuid(), u.id, 'Task ' || k || ' of ' || u.email, k % 3 = 0,
       now() - k * interval '1 minute', CASE WHEN k % 3 = 0 THEN now() END
FROM users AS u CROSS JOIN generate_series(1, :tasks) AS k
WHERE u.email LIKE :prefix || '%'
"""


def sql(url: str, statement: str, **params: Any) -> float:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(text(statement), params)
    engine.dispose()
    return time.perf_counter() - started


def seed(url: str, *, prefix: str, users: int, zones: tuple[str, ...], tasks: int) -> float:
    started = time.perf_counter()
    sql(url, SEED_USERS, prefix=prefix, users=users, zones=list(zones))
    sql(url, SEED_TASKS, prefix=prefix, tasks=tasks)
    sql(url, "ANALYZE users, tasks")
    return time.perf_counter() - started


def scheduler(url: str, *args: str) -> tuple[float, str]:
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    env["DIGEST_GRACE_SECONDS"] = str(int(TICK.total_seconds()))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "run-once", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, done.stdout.strip()


async def idle_tick(url: str) -> tuple[float, float, int, str]:
    """(database ms, total ms, statements, result) of the tick where nobody is due."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    spent: list[float] = []
    started_at: dict[int, float] = {}

    def before(conn: Any, *_: Any) -> None:
        started_at[id(conn)] = time.perf_counter()

    def after(conn: Any, *_: Any) -> None:
        spent.append(time.perf_counter() - started_at.pop(id(conn)))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    try:
        factory = make_session_factory(engine)
        async with factory() as session:  # connect first: a login is not a tick's cost
            await session.execute(text("SELECT 1"))
        spent.clear()
        until = Window.before(datetime.fromisoformat(NOBODY_DUE_AT), TICK)
        started = time.perf_counter()
        result = await run_due_digests(
            session_factory=factory, window=until, options=DigestOptions()
        )
        total = time.perf_counter() - started
    finally:
        await engine.dispose()
    return sum(spent) * 1000, total * 1000, len(spent), f"zones={result.zones} users={result.users}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due-users", type=int, default=100_000)
    parser.add_argument("--other-users", type=int, default=1000, help="per other zone")
    parser.add_argument("--tasks", type=int, default=10)
    args = parser.parse_args()
    zones = len(DUE_ZONES) + len(OTHER_ZONES)
    with bench_database("bench_zones") as url:
        seeded = seed(url, prefix="due", users=args.due_users, zones=DUE_ZONES, tasks=args.tasks)
        baseline, baseline_out = scheduler(url, "--date", DAY)
        sql(url, "TRUNCATE outbox")
        others = args.other_users * len(OTHER_ZONES)
        seeded += seed(url, prefix="other", users=others, zones=OTHER_ZONES, tasks=args.tasks)
        idle_db_ms, idle_ms, idle_statements, idle_out = asyncio.run(idle_tick(url))
        due, due_out = scheduler(url, "--at", DUE_AT)
        rerun, rerun_out = scheduler(url, "--at", DUE_AT)

    print(
        f"digest at each user's midnight: {args.due_users + others:,} users over {zones} zones, "
        f"{args.tasks} tasks each (seeding took {seeded:.1f} s)"
    )
    print(
        f"  baseline, run-once --date, {args.due_users:,} users of one midnight: {baseline:.2f} s"
    )
    print(f"      {baseline_out}")
    print(
        f"  tick with nobody due ({NOBODY_DUE_AT}): database {idle_db_ms:.1f} ms in "
        f"{idle_statements} statement(s), {idle_ms:.1f} ms in all; {idle_out}"
    )
    print(f"  tick with {args.due_users:,} due ({DUE_AT}), run-once --at: {due:.2f} s")
    print(f"      {due_out}")
    print(f"  the same tick again (all exist): {rerun:.2f} s; {rerun_out}")
    ratio = due / baseline
    ok = idle_db_ms < IDLE_TARGET_MS and ratio <= DUE_TARGET_RATIO
    print(
        f"{'within' if ok else 'OUTSIDE'} the targets: idle tick {idle_db_ms:.1f} ms "
        f"< {IDLE_TARGET_MS:.0f} ms of database time; due tick {ratio:.2f}x the baseline "
        f"<= {DUE_TARGET_RATIO:.0f}x"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
