"""What tracing costs `POST /tasks`: the API with tracing off and on, in one run, rounds alternated.

- off: `OTEL_EXPORTER_OTLP_ENDPOINT` unset, as deployed by default; nothing is instrumented and
  each write records only its CloudEvents headers;
- on: every request traced (FastAPI and psycopg instrumentation, the trace context stored with
  each outbox row) and exported over OTLP/HTTP to a real receiver in this process;
- base (with `--baseline DIR`): the same API from another checkout, e.g. the commit before
  tracing (`git archive <commit> | tar -x -C DIR`), run with this interpreter.

Configurations alternate round by round, so a noisy neighbour hits them alike; the table shows
each one's median over the rounds, and its ratio to `off`.

    eval "$(scripts/services.sh env)"
    .venv/bin/python bench/tracing_overhead.py --seconds 8 --connections 8 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):  # `python bench/tracing_overhead.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.api_load import post_tasks
from bench.database import bench_database, required_env
from bench.loadgen import LoadResult, require_wrk
from bench.stack import PASSWORD, login
from tests.support.otlp import OtlpReceiver
from tests.support.ports import free_port
from tests.support.processes import api_argv, base_env, http_ok, running_system


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per measured point")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=3, help="points per configuration")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure as `base`")
    return parser.parse_args(argv)


@contextmanager
def api(env: dict[str, str], log_dir: Path, name: str) -> Iterator[str]:
    """The API (one worker) with `env`; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_system(log_dir) as system:
        system.add(name, api_argv(), env | {"API_PORT": str(port)}, http_ok(f"{url}/healthz"))
        system.start(name)
        yield url


def token(url: str) -> str:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    with httpx.Client(base_url=url, timeout=30) as client:
        body = {"email": email, "password": PASSWORD}
        client.post("/auth/register", json=body).raise_for_status()
        return login(client, email)


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    require_wrk()
    results: dict[str, list[LoadResult]] = {}
    with (
        bench_database("bench_tracing") as url,
        OtlpReceiver() as otlp,
        tempfile.TemporaryDirectory(prefix="bench-tracing-") as logs,
    ):
        common = base_env(
            DATABASE_URL=url,
            KAFKA_BOOTSTRAP_SERVERS=required_env("KAFKA_BOOTSTRAP_SERVERS"),
            LOG_LEVEL="INFO",
            JWT_SECRET="bench-" + "x" * 40,
        )
        configs = {
            "off": common,
            "on": common | {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint},
        }
        if args.baseline is not None:
            # Imports from the other checkout only: no cwd, no script directory on sys.path.
            base = str(args.baseline.resolve())
            configs["base"] = common | {"PYTHONPATH": base, "PYTHONSAFEPATH": "1"}
        for round_ in range(args.rounds):
            for name, env in configs.items():
                with api(env, Path(logs), f"api-{name}-{round_}") as base_url:
                    point = post_tasks(
                        base_url,
                        token=token(base_url),
                        connections=args.connections,
                        seconds=args.seconds,
                    )
                results.setdefault(name, []).append(point)
                print(f"round {round_ + 1} {name:>4}: {point.rps:8.1f} req/s", flush=True)
        spans = len(otlp.received())
    print_table(results, connections=args.connections)
    print(f"spans received by the OTLP receiver while tracing was on: {spans}")


def print_table(results: dict[str, list[LoadResult]], *, connections: int) -> None:
    off = statistics.median(r.rps for r in results["off"])
    print(f"\nPOST /tasks, {connections} connections, median of {len(results['off'])} rounds")
    print("| tracing | req/s | p50 ms | p99 ms | errors | vs off |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, points in results.items():
        rps = statistics.median(p.rps for p in points)
        p50 = statistics.median(p.p50_ms for p in points)
        p99 = statistics.median(p.p99_ms for p in points)
        errors = sum(p.errors + p.non_2xx for p in points)
        print(f"| {name} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {errors} | {rps / off:.1%} |")


if __name__ == "__main__":
    main()
