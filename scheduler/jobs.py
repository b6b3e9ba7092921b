"""APScheduler wiring: which day a run covers, the cron job, and the catch-up of a missed run."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from app.core.clock import utcnow
from scheduler.digest import DigestOptions, DueResult, run_due_digests
from scheduler.due import Window
from scheduler.health import write_heartbeat
from scheduler.metrics import Liveness, SchedulerMetrics
from scheduler.settings import SchedulerSettings

log = structlog.get_logger(__name__)

DIGEST_JOB_ID = "daily-digest"
HEARTBEAT_JOB_ID = "heartbeat"


def digest_day(fire_time: datetime, zone: ZoneInfo) -> date:
    """The day a run fired at `fire_time` reports on: the calendar day before it, in `zone`."""
    return fire_time.astimezone(zone).date() - timedelta(days=1)


def tick_window(*, now: datetime, last_until: datetime | None, grace: timedelta) -> Window:
    """What a tick covers: everything since the last tick that succeeded, at most `grace` back.

    On start there is no last tick, so the first one looks back the whole grace period: the
    midnights the process was down for are caught up, and those it had already handled cost a
    read of their users and no insert (their digest ids exist). Older days are left alone: a
    digest days late is news to nobody, and `run-once --date` is there for an operator.
    """
    oldest = now - grace
    since = oldest if last_until is None else max(last_until, oldest)
    return Window(since=min(since, now), until=now)


def digest_options(settings: SchedulerSettings) -> DigestOptions:
    return DigestOptions(
        max_titles=settings.digest_max_titles,
        include_empty=settings.digest_include_empty,
        page_size=settings.digest_page_size,
        topic=settings.kafka_topic,
    )


def _log_retry(state: RetryCallState) -> None:
    log.warning(
        "digest run failed; retrying the whole run",
        attempt=state.attempt_number,
        error=repr(state.outcome.exception()) if state.outcome else None,
        retry_in_seconds=state.upcoming_sleep,
    )


def retrying(*, give_up_after: timedelta, max_wait_seconds: float = 60) -> AsyncRetrying:
    """Retry a run that lost the database; idempotence makes a full re-run the right recovery."""
    return AsyncRetrying(
        retry=retry_if_exception_type((OperationalError, InterfaceError)),
        wait=wait_exponential(multiplier=1, max=max_wait_seconds),
        stop=stop_after_delay(give_up_after),
        before_sleep=_log_retry,
        reraise=True,
    )


class DigestJob:
    """The scheduled tick: writes the digests of the users whose local day ended since the last."""

    def __init__(
        self,
        *,
        settings: SchedulerSettings,
        session_factory: async_sessionmaker[AsyncSession],
        metrics: SchedulerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self.metrics = metrics or SchedulerMetrics(CollectorRegistry())
        #: The end of the last window written completely; in memory, so a restart looks back
        #: the grace period again (which re-reads, but never re-writes, what was done).
        self.last_until: datetime | None = None
        self.running: set[asyncio.Task[object]] = set()

    async def run(self) -> DueResult | None:
        """One tick; None when shutdown interrupted it."""
        task = asyncio.current_task()
        if task is not None:
            self.running.add(task)
        try:
            grace = timedelta(seconds=self._settings.digest_grace_seconds)
            window = tick_window(now=utcnow(), last_until=self.last_until, grace=grace)
            with structlog.contextvars.bound_contextvars(tick=window.until.isoformat()):
                log.debug("digest tick starting", since=window.since.isoformat())
                # A database outage at midnight must not cost the day its digest: keep retrying
                # (pages already written are skipped) until the grace period is over.
                async for attempt in retrying(give_up_after=grace):
                    with attempt:
                        result = await run_due_digests(
                            session_factory=self._session_factory,
                            window=window,
                            options=digest_options(self._settings),
                        )
                        self.last_until = window.until
                        self.metrics.finished(enqueued=result.enqueued, existing=result.existing)
                        return result
            raise AssertionError("unreachable: tenacity re-raises the last error")
        except asyncio.CancelledError:
            self.metrics.runs.labels("interrupted").inc()
            # Only the daemon's shutdown cancels a run (this task belongs to APScheduler, nothing
            # awaits it). Committed pages stay and the next run writes the rest, so end quietly
            # instead of surfacing a planned stop as a job error.
            log.warning("digest run interrupted by shutdown; the next run completes it")
            return None
        except Exception:
            self.metrics.runs.labels("failed").inc()
            raise
        finally:
            if task is not None:
                self.running.discard(task)


def build_scheduler(
    *,
    settings: SchedulerSettings,
    job: DigestJob,
    now: datetime,
    liveness: Liveness | None = None,
) -> AsyncIOScheduler:
    """An AsyncIO scheduler with the digest tick; the first tick runs at once (the catch-up)."""
    scheduler = AsyncIOScheduler(timezone=settings.zone)
    trigger = settings.trigger()
    scheduler.add_job(
        job.run,
        trigger,
        id=DIGEST_JOB_ID,
        name="digest tick",
        # In-memory job store: misfires happen only when the loop was busy or the clock jumped.
        misfire_grace_time=max(1, settings.digest_grace_seconds),
        coalesce=True,
        max_instances=1,
        # APScheduler computes the first run from the trigger unless we set it; `now` runs the
        # catch-up as the very job, so it can never overlap a cron run (max_instances=1).
        next_run_time=now,
    )
    scheduler.add_job(
        _beat,
        "interval",
        seconds=settings.scheduler_heartbeat_seconds,
        id=HEARTBEAT_JOB_ID,
        name="heartbeat",
        kwargs={
            "path": settings.scheduler_heartbeat_file,
            "scheduler": scheduler,
            "liveness": liveness,
        },
        next_run_time=now,
        coalesce=True,
        max_instances=1,
    )
    return scheduler


def _beat(*, path: Path, scheduler: AsyncIOScheduler, liveness: Liveness | None) -> None:
    # A plain function: APScheduler runs it in a worker thread, so the file write never blocks
    # the loop, yet it is only submitted while the loop and the scheduler are alive.
    write_heartbeat(path=path, next_digest_at=next_digest_at(scheduler))
    if liveness is not None:
        liveness.beat()


def next_digest_at(scheduler: AsyncIOScheduler) -> datetime | None:
    job = scheduler.get_job(DIGEST_JOB_ID)
    return None if job is None else job.next_run_time
