"""When the daemon ticks and what each tick covers: every 15 minutes, catch-up within grace."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from scheduler.due import Window
from scheduler.jobs import DIGEST_JOB_ID, DigestJob, build_scheduler, digest_day, tick_window
from scheduler.settings import SchedulerSettings

pytestmark = pytest.mark.unit

MOSCOW = ZoneInfo("Europe/Moscow")
SIX_HOURS = timedelta(hours=6)
NOW = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)


def settings(**overrides: object) -> SchedulerSettings:
    return SchedulerSettings.model_validate(overrides)


def test_the_default_schedule_wakes_every_quarter_of_an_hour() -> None:
    trigger = settings().trigger()

    first = trigger.get_next_fire_time(None, datetime(2026, 3, 5, 13, 31, tzinfo=UTC))
    assert first is not None
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))

    assert (first, second) == (
        datetime(2026, 3, 5, 13, 45, tzinfo=UTC),
        datetime(2026, 3, 5, 14, 0, tzinfo=UTC),
    )


def test_run_once_without_a_date_reports_on_yesterday_in_the_default_zone() -> None:
    fire = datetime(2026, 1, 1, 21, 0, tzinfo=UTC)  # 00:00 on 2 January in Moscow

    assert digest_day(fire, MOSCOW) == date(2026, 1, 1)
    assert digest_day(fire, ZoneInfo("UTC")) == date(2025, 12, 31)


def test_the_first_tick_looks_back_the_whole_grace_period() -> None:
    window = tick_window(now=NOW, last_until=None, grace=SIX_HOURS)

    assert window == Window(since=NOW - SIX_HOURS, until=NOW)


def test_a_tick_covers_exactly_the_time_since_the_last_tick_that_succeeded() -> None:
    last = NOW - timedelta(minutes=15)

    assert tick_window(now=NOW, last_until=last, grace=SIX_HOURS) == Window(last, NOW)


def test_after_a_long_outage_a_tick_looks_back_no_further_than_grace() -> None:
    last = NOW - timedelta(days=2)

    assert tick_window(now=NOW, last_until=last, grace=SIX_HOURS).since == NOW - SIX_HOURS


def test_a_clock_that_stepped_back_gives_an_empty_window_not_an_inverted_one() -> None:
    window = tick_window(now=NOW, last_until=NOW + timedelta(minutes=5), grace=SIX_HOURS)

    assert window.since == window.until == NOW


def _job(config: SchedulerSettings) -> DigestJob:
    return DigestJob(settings=config, session_factory=async_sessionmaker())


async def test_the_scheduler_runs_the_first_tick_at_once_to_catch_up() -> None:
    config = settings(digest_grace_seconds=3600)
    scheduler = build_scheduler(settings=config, job=_job(config), now=NOW)
    scheduler.start(paused=True)
    try:
        assert scheduler.get_job(DIGEST_JOB_ID).next_run_time == NOW
    finally:
        scheduler.shutdown(wait=False)


def test_a_new_job_has_no_last_tick() -> None:
    assert _job(settings()).last_until is None
