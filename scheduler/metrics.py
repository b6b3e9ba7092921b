"""Prometheus metrics of the scheduler, on a registry of its own, and its liveness."""

from __future__ import annotations

import time
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge

from app.core.service_http import HealthReport
from scheduler.health import MISSED_BEATS


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        counter = partial(Counter, registry=registry)
        self.runs = counter(
            "scheduler_digest_runs",
            "Digest runs, by outcome (ok, failed, interrupted)",
            ["outcome"],
        )
        self.last_run = Gauge(
            "scheduler_last_digest_run_timestamp_seconds",
            "When the last digest run finished successfully (Unix time)",
            registry=registry,
        )
        self.enqueued = counter("scheduler_digests_enqueued", "Digests written to the outbox")
        self.existing = counter(
            "scheduler_digests_existing", "Digests a run found already written (re-runs)"
        )

    def finished(self, *, enqueued: int, existing: int) -> None:
        """Count one run that completed, with what it wrote and what it found written."""
        self.runs.labels("ok").inc()
        self.last_run.set(time.time())
        self.enqueued.inc(enqueued)
        self.existing.inc(existing)


class Liveness:
    """The heartbeat job's beats, for `/healthz`; the same rule as the heartbeat file."""

    def __init__(self, *, interval_seconds: int) -> None:
        self._interval = interval_seconds
        self._beat = time.monotonic()

    def beat(self) -> None:
        self._beat = time.monotonic()

    def report(self) -> HealthReport:
        since = time.monotonic() - self._beat
        healthy = since <= MISSED_BEATS * self._interval
        status = "ok" if healthy else "stuck"
        return HealthReport(healthy, {"status": status, "seconds_since_heartbeat": round(since, 3)})
