"""Logins per second with the configured argon2 cost, and `GET /tasks` p99 quiet vs during a storm.

Hashing runs off the event loop, so a storm may cost CPU (2 cores are shared with it) but must not
stall the loop: the reads' p99 during the storm is compared with their p99 alone.
"""

from __future__ import annotations

import json

from bench.loadgen import LoadResult, Wrk, load


def login_throughput(
    api_url: str, *, email: str, password: str, connections: int, seconds: float
) -> LoadResult:
    body = json.dumps({"email": email, "password": password})
    return load(
        f"{api_url}/auth/login", connections=connections, seconds=seconds, method="POST", body=body
    )


def reads_quiet_and_in_storm(
    api_url: str,
    *,
    token: str,
    email: str,
    password: str,
    read_connections: int,
    storm_connections: int,
    seconds: float,
) -> tuple[LoadResult, LoadResult, LoadResult]:
    """(reads alone, reads during the storm, the storm itself)."""
    quiet = load(f"{api_url}/tasks", connections=read_connections, seconds=seconds, token=token)
    body = json.dumps({"email": email, "password": password})
    storm = Wrk(
        f"{api_url}/auth/login",
        connections=storm_connections,
        seconds=seconds + 2,
        method="POST",
        body=body,
    )
    stormy = load(f"{api_url}/tasks", connections=read_connections, seconds=seconds, token=token)
    return quiet, stormy, storm.result()
