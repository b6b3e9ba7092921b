"""The long-running scheduler process: start, log the next run, stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import structlog
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry

from app.core.clock import utcnow
from app.core.db import engine_from_settings, make_session_factory
from app.core.preferences import tz_database
from app.core.service_http import service_registry, serving
from scheduler.health import remove_heartbeat
from scheduler.jobs import DIGEST_JOB_ID, DigestJob, build_scheduler, next_digest_at
from scheduler.metrics import Liveness, SchedulerMetrics
from scheduler.settings import SchedulerSettings

log = structlog.get_logger(__name__)

_DIGEST_DONE = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR


async def serve(
    settings: SchedulerSettings, stop: asyncio.Event, *, registry: CollectorRegistry | None = None
) -> None:
    """Run the digest tick on its schedule until `stop` is set (SIGTERM or SIGINT)."""
    # APScheduler logs every run of every job at INFO, the heartbeat's too; the digest job logs
    # its own start and result with the day bound, so keep only the executor's warnings.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    engine = engine_from_settings(settings)
    metrics = SchedulerMetrics(registry or service_registry())
    liveness = Liveness(interval_seconds=settings.scheduler_heartbeat_seconds)
    job = DigestJob(
        settings=settings, session_factory=make_session_factory(engine), metrics=metrics
    )
    scheduler = build_scheduler(settings=settings, job=job, now=utcnow(), liveness=liveness)
    http = serving(
        host=settings.scheduler_metrics_host,
        port=settings.scheduler_metrics_port,
        registry=metrics.registry,
        health=liveness.report,
    )
    try:
        async with http:
            await _run(scheduler, job, settings, stop)
    finally:
        remove_heartbeat(settings.scheduler_heartbeat_file)
        await engine.dispose()
        log.info("scheduler stopped")


async def _run(
    scheduler: AsyncIOScheduler, job: DigestJob, settings: SchedulerSettings, stop: asyncio.Event
) -> None:
    scheduler.start()
    scheduler.add_listener(lambda event: _log_next_run(scheduler, event), _DIGEST_DONE)
    log.info(
        "scheduler started",
        cron=settings.digest_cron,
        timezone=settings.digest_timezone,
        tz_database=tz_database(),
        next_digest_at=_iso(next_digest_at(scheduler)),
    )
    await stop.wait()
    log.info("stopping: no new runs; waiting for a digest run in flight")
    scheduler.pause()
    if job.running:
        # Pages commit one by one, so an interrupted run loses at most its current page, which
        # the next run (or the catch-up on start) writes.
        _, pending = await asyncio.wait(job.running, timeout=settings.scheduler_stop_seconds)
        if pending:
            log.warning("digest run still busy; cancelling it", pending=len(pending))
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)  # shutdown() is scheduled onto the loop; let it cancel leftovers
    if job.running:
        await asyncio.wait(job.running, timeout=settings.scheduler_stop_seconds)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _log_next_run(scheduler: AsyncIOScheduler, event: JobExecutionEvent) -> None:
    next_run = next_digest_at(scheduler)
    if event.job_id == DIGEST_JOB_ID and next_run is not None:  # None: shutting down
        log.info("next digest run", next_digest_at=next_run.isoformat())
