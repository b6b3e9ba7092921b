"""APScheduler wiring: which day a run covers, the cron job, and the catch-up of a missed run."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
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
from scheduler.digest import DigestOptions, DigestResult, run_digest
from scheduler.health import write_heartbeat
from scheduler.settings import SchedulerSettings

log = structlog.get_logger(__name__)

DIGEST_JOB_ID = "daily-digest"
HEARTBEAT_JOB_ID = "heartbeat"


def digest_day(fire_time: datetime, zone: ZoneInfo) -> date:
    """The day a run fired at `fire_time` reports on: the calendar day before it, in `zone`."""
    return fire_time.astimezone(zone).date() - timedelta(days=1)


def latest_fire_time(trigger: CronTrigger, *, now: datetime, within: timedelta) -> datetime | None:
    """The last time `trigger` fired in the window (now - within, now], if it did."""
    latest = None
    fire = trigger.get_next_fire_time(None, now - within)
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire)
    return latest


def catch_up_day(
    trigger: CronTrigger, *, zone: ZoneInfo, now: datetime, grace: timedelta
) -> date | None:
    """The day to catch up on start: the latest scheduled run's day, if it fell within `grace`.

    No state is kept about which runs happened: a catch-up for a run that did happen inserts
    nothing (its event ids already exist), so re-running the most recent day is always safe and
    costs one read pass. Older days are deliberately left alone: a digest days late is news to
    nobody, and an operator can still run `python -m scheduler run-once --date ...`.
    """
    fire = latest_fire_time(trigger, now=now, within=grace)
    return None if fire is None else digest_day(fire, zone)


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
    """The scheduled run: works out the day that just ended and writes its digests."""

    def __init__(
        self,
        *,
        settings: SchedulerSettings,
        session_factory: async_sessionmaker[AsyncSession],
    ) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._trigger = settings.trigger()
        self.running: set[asyncio.Task[object]] = set()

    async def run(self) -> DigestResult | None:
        """One scheduled run; None when shutdown interrupted it."""
        task = asyncio.current_task()
        if task is not None:
            self.running.add(task)
        try:
            now = utcnow()
            # The run that is executing now is the trigger's latest fire time, even when it
            # starts late (a misfire within grace, or a catch-up on start).
            fire = latest_fire_time(self._trigger, now=now, within=timedelta(days=1)) or now
            day = digest_day(fire, self._settings.zone)
            # A database outage at midnight must not cost the day its digest: keep retrying
            # (pages already written are skipped) until the grace period is over.
            give_up_after = timedelta(seconds=self._settings.digest_grace_seconds)
            with structlog.contextvars.bound_contextvars(digest_day=day.isoformat()):
                log.info("digest run starting", scheduled_for=fire.isoformat())
                async for attempt in retrying(give_up_after=give_up_after):
                    with attempt:
                        return await run_digest(
                            session_factory=self._session_factory,
                            day=day,
                            options=digest_options(self._settings),
                            occurred_at=now,
                        )
            raise AssertionError("unreachable: tenacity re-raises the last error")
        except asyncio.CancelledError:
            # Only the daemon's shutdown cancels a run (this task belongs to APScheduler, nothing
            # awaits it). Committed pages stay and the next run writes the rest, so end quietly
            # instead of surfacing a planned stop as a job error.
            log.warning("digest run interrupted by shutdown; the next run completes it")
            return None
        finally:
            if task is not None:
                self.running.discard(task)


def build_scheduler(
    *,
    settings: SchedulerSettings,
    job: DigestJob,
    now: datetime,
) -> AsyncIOScheduler:
    """An AsyncIO scheduler with the cron digest job (run at once if a catch-up is due)."""
    scheduler = AsyncIOScheduler(timezone=settings.zone)
    trigger = settings.trigger()
    grace = timedelta(seconds=settings.digest_grace_seconds)
    missed = catch_up_day(trigger, zone=settings.zone, now=now, grace=grace)
    if missed is not None:
        # Logged even when that run did happen: its digests exist and are skipped, cheaply.
        log.info("running the latest scheduled digest on start", digest_day=missed.isoformat())
    scheduler.add_job(
        job.run,
        trigger,
        id=DIGEST_JOB_ID,
        name="daily digest",
        # In-memory job store: misfires happen only when the loop was busy or the clock jumped.
        misfire_grace_time=max(1, settings.digest_grace_seconds),
        coalesce=True,
        max_instances=1,
        # APScheduler computes the first run from the trigger unless we set it; `now` runs the
        # catch-up as the very job, so it can never overlap a cron run (max_instances=1).
        **({"next_run_time": now} if missed is not None else {}),
    )
    scheduler.add_job(
        _beat,
        "interval",
        seconds=settings.scheduler_heartbeat_seconds,
        id=HEARTBEAT_JOB_ID,
        name="heartbeat",
        kwargs={"path": settings.scheduler_heartbeat_file, "scheduler": scheduler},
        next_run_time=now,
        coalesce=True,
        max_instances=1,
    )
    return scheduler


def _beat(*, path: Path, scheduler: AsyncIOScheduler) -> None:
    # A plain function: APScheduler runs it in a worker thread, so the file write never blocks
    # the loop, yet it is only submitted while the loop and the scheduler are alive.
    write_heartbeat(path=path, next_digest_at=next_digest_at(scheduler))


def next_digest_at(scheduler: AsyncIOScheduler) -> datetime | None:
    job = scheduler.get_job(DIGEST_JOB_ID)
    return None if job is None else job.next_run_time
