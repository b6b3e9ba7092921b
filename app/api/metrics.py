"""The API's Prometheus metrics: requests by method, route template and status class, latency.

Labels are bounded by construction: the route is the matched template (`/tasks/{task_id}`),
never the raw path (a scanner's random paths are all `unmatched`), the method one of the few
the API serves, the status its class (`2xx` ... `5xx`). `GET /metrics` serves them; nginx keeps
it off the public `/api/` prefix. With several uvicorn workers (`API_WORKERS` > 1) each worker
is its own process, so `python -m app` points `PROMETHEUS_MULTIPROC_DIR` at a fresh directory
and a scrape adds up every worker's counts (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED = "unmatched"

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "api_requests",
    "HTTP requests answered, by method, route template and status class",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "api_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)

# The labelled children, looked up once per combination: `labels()` on every request would
# take the metric's lock and build a tuple each time.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def route_of(scope: MutableMapping[str, Any]) -> str:
    """The template of the route that answered, or `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def observe(scope: MutableMapping[str, Any], status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    method = scope.get("method", "")
    key = (method if method in METHODS else "other", route_of(scope), status // 100)
    children = _children.get(key)
    if children is None:
        children = (
            REQUESTS.labels(key[0], key[1], f"{key[2]}xx"),
            LATENCY.labels(key[0], key[1]),
        )
        _children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The body and content type of `GET /metrics`: every worker's counts when there are several."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return _generate(registry), CONTENT_TYPE_LATEST
    return _generate(REGISTRY), CONTENT_TYPE_LATEST
