"""Prometheus metrics of one relay process, on a registry of its own, and its liveness."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import TYPE_CHECKING

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.core.service_http import HealthReport

if TYPE_CHECKING:  # the store imports the leases, which count into these metrics
    from relay.store import OutboxStore

log = structlog.get_logger(__name__)


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        gauge, counter = partial(Gauge, registry=registry), partial(Counter, registry=registry)
        self.unpublished = gauge("relay_outbox_unpublished", "Outbox rows waiting for publication")
        self.oldest_age = gauge(
            "relay_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox row",
        )
        self.parked = gauge(
            "relay_outbox_parked", "Outbox rows parked after permanent broker rejections"
        )
        self.published = counter(
            "relay_published_events", "Events acknowledged by Kafka and marked published"
        )
        self.parked_total = counter("relay_parked_events", "Events this process parked")
        self.errors = counter("relay_errors", "Failed relay cycles and rejected messages", ["kind"])
        self.latency = Histogram(
            "relay_publish_latency_seconds",
            "From the outbox row's creation to Kafka's acknowledgement",
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )
        self.partitions_owned = gauge(
            "relay_partitions_owned", "Outbox partitions this relay leases and may publish"
        )
        self.lease_changes = counter(
            "relay_lease_changes", "Partitions taken, released or lost by this relay", ["kind"]
        )
        self.fenced = counter(
            "relay_fenced_attempts",
            "Claims or marks refused by an expired lease, producers fenced, old owners fenced",
            ["kind"],
        )

    async def refresh_backlog(self, store: OutboxStore) -> None:
        """Set the backlog gauges from one query over the unpublished rows."""
        backlog = await store.backlog()
        self.unpublished.set(backlog.unpublished)
        self.oldest_age.set(backlog.oldest_age)
        self.parked.set(backlog.parked)

    async def refresh_backlog_forever(self, store: OutboxStore, *, interval: float) -> None:
        while True:
            try:
                await self.refresh_backlog(store)
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

    def report(self) -> HealthReport:
        age = time.monotonic() - self._beat
        healthy = age < self._stale_after
        return HealthReport(
            healthy,
            {
                "status": "ok" if healthy else "stuck",
                "role": self.role,
                "detail": self.detail,
                "seconds_since_heartbeat": round(age, 3),
            },
        )
