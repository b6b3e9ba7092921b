"""Prometheus metrics, backlog gauges read from the outbox, and /metrics + /healthz on one port."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)

UNPUBLISHED = Gauge("relay_outbox_unpublished", "Outbox rows waiting for publication")
OLDEST_AGE = Gauge(
    "relay_outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished outbox row"
)
PARKED = Gauge("relay_outbox_parked", "Outbox rows parked after permanent broker rejections")
PUBLISHED = Counter("relay_published_events", "Events acknowledged by Kafka and marked published")
PARKED_TOTAL = Counter("relay_parked_events", "Events this process parked")
ERRORS = Counter("relay_errors", "Failed relay cycles and rejected messages", ["kind"])
LATENCY = Histogram(
    "relay_publish_latency_seconds",
    "From the outbox row's creation to Kafka's acknowledgement",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
IS_LEADER = Gauge("relay_is_leader", "1 while this process holds the relay lock")

BACKLOG = text(
    """
    SELECT count(*) FILTER (WHERE parked_at IS NULL) AS unpublished,
           coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)),
                    0) AS oldest_age,
           count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
    FROM outbox WHERE published_at IS NULL
    """
)


async def refresh_backlog(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """Set the backlog gauges from one query over the unpublished rows."""
    async with session_factory() as session:
        row = (await session.execute(BACKLOG)).one()
    UNPUBLISHED.set(row.unpublished)
    OLDEST_AGE.set(float(row.oldest_age))
    PARKED.set(row.parked)


async def refresh_backlog_forever(
    session_factory: async_sessionmaker[AsyncSession], *, interval: float
) -> None:
    while True:
        try:
            await refresh_backlog(session_factory)
        except Exception as exc:  # a gauge must never take the relay down
            log.warning("backlog gauges not refreshed", error=str(exc))
        await asyncio.sleep(interval)


class Health:
    """Liveness: the main loop reports in; a loop silent for too long is reported as stuck."""

    def __init__(self, *, stale_after: float) -> None:
        self.role = "starting"
        self.detail = ""
        self._stale_after = stale_after
        self._beat = time.monotonic()

    def beat(self, role: str, detail: str = "") -> None:
        self.role, self.detail, self._beat = role, detail, time.monotonic()

    def report(self) -> tuple[bool, dict[str, Any]]:
        age = time.monotonic() - self._beat
        healthy = age < self._stale_after
        body = {"status": "ok" if healthy else "stuck", "role": self.role, "detail": self.detail}
        return healthy, body | {"seconds_since_heartbeat": round(age, 3)}


type StartResponse = Callable[[str, list[tuple[str, str]]], object]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not news."""


def serve_http(health: Health, *, host: str, port: int) -> WSGIServer:
    """Serve /healthz (JSON, 200 or 503) and Prometheus /metrics from a daemon thread."""
    metrics_app = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            healthy, body = health.report()
            status = "200 OK" if healthy else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        return metrics_app(environ, start_response)  # type: ignore[no-any-return]

    server = make_server(host, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="relay-http", daemon=True).start()
    return server
