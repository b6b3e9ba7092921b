"""The PostgreSQL ceiling: the exact transaction of `POST /tasks`, driven by pgbench.

Task insert + outbox insert + NOTIFY, committed with the same durability as the API's (fsync and
synchronous_commit on), prepared statements like psycopg's, over TCP like the API's pool.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from bench.database import bench_database
from bench.stats import percentile

PAYLOAD = {
    "event_id": "00000000-0000-0000-0000-000000000000",
    "type": "task.created",
    "occurred_at": "2026-01-01T00:00:00Z",
    "user_id": "{uid}",
    "task_id": "00000000-0000-0000-0000-000000000000",
    "title": "bench task",
}
SCRIPT = """\
BEGIN;
INSERT INTO tasks (id, user_id, title) VALUES (gen_random_uuid(), '{uid}', 'bench task');
INSERT INTO outbox (event_id, topic, key, type, payload, occurred_at)
  VALUES (gen_random_uuid(), 'events', '{uid}', 'task.created', '{payload}'::jsonb, now());
SELECT pg_notify('outbox', '');
END;
"""


def pgbench_path() -> str:
    found = shutil.which("pgbench") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)), None
    )
    if found is None:
        msg = "pgbench not found (apt-get install postgresql-client)"
        raise SystemExit(msg)
    return found


def _seed_user(url: str) -> uuid.UUID:
    uid = uuid.uuid4()
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO users (id, email, password_hash) VALUES (:id, :email, 'x')"),
            {"id": uid, "email": f"pgbench-{uid.hex[:8]}@example.com"},
        )
    engine.dispose()
    return uid


def run_point(url: str, uid: uuid.UUID, *, clients: int, seconds: int) -> dict[str, float]:
    u = make_url(url)
    payload = json.dumps(PAYLOAD).replace("{uid}", str(uid))
    with tempfile.TemporaryDirectory(prefix="pgbench-") as tmp:
        script = Path(tmp) / "task.sql"
        script.write_text(SCRIPT.format(uid=uid, payload=payload))
        argv = [
            pgbench_path(),
            "-n",  # no vacuum of pgbench's own tables: we use ours
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(seconds),
            "-f",
            str(script),
            "-l",
            f"--log-prefix={tmp}/tx",
            "-h",
            u.host or "127.0.0.1",
            "-p",
            str(u.port or 5432),
            "-U",
            u.username or "postgres",
            u.database or "postgres",
        ]
        env = os.environ | ({"PGPASSWORD": u.password} if u.password else {})
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            msg = f"pgbench failed: {done.stderr.strip()}"
            raise RuntimeError(msg)
        latencies_ms: list[float] = []
        for log in Path(tmp).glob("tx.*"):
            latencies_ms += [int(line.split()[2]) / 1000 for line in log.read_text().splitlines()]
    tps = next(
        float(line.split()[2]) for line in done.stdout.splitlines() if line.startswith("tps =")
    )
    return {
        "connections": clients,
        "rps": round(tps, 1),
        "p50_ms": round(percentile(latencies_ms, 50), 2),
        "p99_ms": round(percentile(latencies_ms, 99), 2),
        "transactions": len(latencies_ms),
    }


def measure(concurrencies: list[int], seconds: int) -> list[dict[str, float]]:
    """pgbench at each concurrency, in a database of its own (its rows never reach the relay)."""
    with bench_database("bench_pgbench") as url:
        uid = _seed_user(url)
        return [run_point(url, uid, clients=c, seconds=seconds) for c in concurrencies]


if __name__ == "__main__":
    for point in measure([1, 8, 32], 5):
        print(point)
