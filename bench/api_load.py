"""`POST /tasks` and `GET /tasks` at several concurrencies, against any server of that shape."""

from __future__ import annotations

from bench.loadgen import LoadResult, load

NEW_TASK = '{"title": "bench task"}'


def post_tasks(base_url: str, *, token: str, connections: int, seconds: float) -> LoadResult:
    return load(
        f"{base_url}/tasks",
        connections=connections,
        seconds=seconds,
        method="POST",
        body=NEW_TASK,
        token=token,
    )


def get_tasks(base_url: str, *, token: str, connections: int, seconds: float) -> LoadResult:
    return load(f"{base_url}/tasks", connections=connections, seconds=seconds, token=token)
