"""The PostgreSQL ceilings: the exact statements of `POST /tasks` and `GET /tasks`, by pgbench.

The API's statement (`app.tasks.CREATE_TASK`: owner check, task insert, outbox insert, whose
trigger NOTIFYs) compiled to SQL with its parameters filled in, one autocommit transaction each,
as the API runs it. Also the same work as four statements in BEGIN ... END, for reference, and
the read of `GET /tasks` (`app.tasks.LIST_TASKS`: owner check, counts and a page of the 20 tasks
the bench's reader has). Same
durability as the API's (fsync and synchronous_commit on), prepared statements like psycopg's,
over TCP like the API's pool.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from app.tasks import CREATE_TASK, LIST_TASKS
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
#: What `outbox_row` records beside it: the CloudEvents time and subject (tracing off).
HEADERS = {
    "ce_time": "2026-01-01T00:00:00Z",
    "ce_subject": "tasks/00000000-0000-0000-0000-000000000000",
}
#: The same work as a textbook transaction of four statements (the trigger NOTIFYs as well; one
#: transaction's identical notifications are folded into one).
MULTI_STATEMENT = """\
BEGIN;
INSERT INTO tasks (id, user_id, title) VALUES (gen_random_uuid(), '{uid}', 'bench task');
INSERT INTO outbox (event_id, topic, key, type, payload, headers, occurred_at)
  VALUES (gen_random_uuid(), 'events', '{uid}', 'task.created', '{payload}'::jsonb,
          '{headers}'::jsonb, now());
SELECT pg_notify('outbox', '');
END;
"""


#: How each parameter of `CREATE_TASK` is filled in for pgbench (fresh ids, the time of day).
_FILL = {
    "user_id": "'{uid}'",
    "key": "'{uid}'",
    "task_id": "gen_random_uuid()",
    "event_id": "gen_random_uuid()",
    "title": "'bench task'",
    "topic": "'events'",
    "type": "'task.created'",
    "payload": "'{payload}'",
    "headers": "'{headers}'",
    "created_at": "now()",
    "occurred_at": "now()",
}


def exact_statement() -> str:
    """`CREATE_TASK` as psycopg sends it, each `%(name)s` replaced by its pgbench value."""
    sql = str(CREATE_TASK.compile(dialect=psycopg_dialect()))
    sql = re.sub(r"%\((\w+)\)s", lambda m: _FILL[m.group(1)], sql)
    return " ".join(sql.split()) + ";\n"


def list_statement() -> str:
    """`LIST_TASKS` (no filter) as psycopg sends it: the first page of 20 of the user's tasks."""
    sql = str(LIST_TASKS[None].compile(dialect=psycopg_dialect()))
    fill = {"user_id": "'{uid}'", "limit": str(PAGE), "offset": "0"}
    sql = re.sub(r"%\((\w+)\)s", lambda m: fill[m.group(1)], sql)
    return " ".join(sql.split()) + ";\n"


#: The tasks of the seeded user, as many as the bench's reader has (a full page).
PAGE = 20
SCRIPTS = {
    "exact": exact_statement,
    "multi_statement": lambda: MULTI_STATEMENT,
    "list": list_statement,
}


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
        conn.execute(
            text(
                "INSERT INTO tasks (id, user_id, title, done, created_at)"
                " SELECT gen_random_uuid(), :id, 'task ' || i, false, now()"
                " FROM generate_series(1, :n) AS i"
            ),
            {"id": uid, "n": PAGE},
        )
    engine.dispose()
    return uid


def run_point(
    url: str, uid: uuid.UUID, *, clients: int, seconds: int, script: str = "exact"
) -> dict[str, float]:
    u = make_url(url)
    payload = json.dumps(PAYLOAD).replace("{uid}", str(uid))
    with tempfile.TemporaryDirectory(prefix="pgbench-") as tmp:
        path = Path(tmp) / "task.sql"
        script_text = SCRIPTS[script]().replace("{uid}", str(uid)).replace("{payload}", payload)
        path.write_text(script_text.replace("{headers}", json.dumps(HEADERS)))
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
            str(path),
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


def measure(
    concurrencies: list[int], seconds: int, *, script: str = "exact"
) -> list[dict[str, float]]:
    """pgbench at each concurrency, in a database of its own (its rows never reach the relay)."""
    with bench_database("bench_pgbench") as url:
        uid = _seed_user(url)
        return [
            run_point(url, uid, clients=c, seconds=seconds, script=script) for c in concurrencies
        ]


if __name__ == "__main__":
    print(exact_statement())
    for name in SCRIPTS:
        for point in measure([1, 8, 32], 5, script=name):
            print(name, point)
