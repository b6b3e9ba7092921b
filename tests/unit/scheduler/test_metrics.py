"""The scheduler's metrics count what a run did; its liveness follows the heartbeat job."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from scheduler.metrics import Liveness, SchedulerMetrics

pytestmark = pytest.mark.unit


def test_a_finished_run_counts_its_new_and_existing_digests() -> None:
    metrics = SchedulerMetrics(CollectorRegistry())

    metrics.finished(enqueued=3, existing=1)

    registry = metrics.registry
    assert registry.get_sample_value("scheduler_digest_runs_total", {"outcome": "ok"}) == 1
    assert registry.get_sample_value("scheduler_digests_enqueued_total") == 3
    assert registry.get_sample_value("scheduler_digests_existing_total") == 1
    assert (registry.get_sample_value("scheduler_last_digest_run_timestamp_seconds") or 0) > 0


def test_liveness_is_lost_when_the_heartbeat_job_stops_beating() -> None:
    assert Liveness(interval_seconds=30).report().healthy
    report = Liveness(interval_seconds=0).report()  # any time since the beat is too long

    assert not report.healthy
    assert report.detail["status"] == "stuck"
