"""When the digest runs and which day it reports on: cron in a time zone, catch-up within grace."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from scheduler.jobs import (
    DIGEST_JOB_ID,
    DigestJob,
    build_scheduler,
    catch_up_day,
    digest_day,
    latest_fire_time,
)
from scheduler.settings import SchedulerSettings

pytestmark = pytest.mark.unit

MOSCOW = ZoneInfo("Europe/Moscow")
SIX_HOURS = timedelta(hours=6)


def settings(**overrides: object) -> SchedulerSettings:
    return SchedulerSettings.model_validate(overrides)


def test_default_schedule_is_midnight_utc() -> None:
    trigger = settings().trigger()

    fire = trigger.get_next_fire_time(None, datetime(2026, 3, 5, 13, 30, tzinfo=UTC))

    assert fire == datetime(2026, 3, 6, 0, 0, tzinfo=UTC)


def test_cron_fires_at_midnight_in_the_configured_zone() -> None:
    trigger = settings(digest_timezone="Europe/Moscow").trigger()

    fire = trigger.get_next_fire_time(None, datetime(2026, 1, 1, 12, 0, tzinfo=UTC))

    assert fire == datetime(2026, 1, 1, 21, 0, tzinfo=UTC)  # 00:00 on 2 January in Moscow
    assert fire.astimezone(MOSCOW).time().isoformat() == "00:00:00"


def test_a_midnight_run_reports_on_the_day_that_just_ended_in_its_zone() -> None:
    fire = datetime(2026, 1, 1, 21, 0, tzinfo=UTC)  # 00:00 on 2 January in Moscow

    assert digest_day(fire, MOSCOW) == date(2026, 1, 1)
    assert digest_day(fire, ZoneInfo("UTC")) == date(2025, 12, 31)


def test_latest_fire_time_is_the_last_one_inside_the_window() -> None:
    trigger = settings(digest_cron="0 */4 * * *").trigger()
    now = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)

    assert latest_fire_time(trigger, now=now, within=SIX_HOURS) == datetime(
        2026, 1, 2, 8, 0, tzinfo=UTC
    )
    assert latest_fire_time(trigger, now=now, within=timedelta(hours=1)) is None


def test_a_run_missed_within_grace_is_caught_up_for_the_day_it_covered() -> None:
    trigger = settings(digest_timezone="Europe/Moscow").trigger()
    started = datetime(2026, 1, 2, 2, 0, tzinfo=UTC)  # 05:00 in Moscow, 5 h after midnight

    assert catch_up_day(trigger, zone=MOSCOW, now=started, grace=SIX_HOURS) == date(2026, 1, 1)


def test_a_run_missed_longer_ago_than_grace_is_not_caught_up() -> None:
    trigger = settings(digest_timezone="Europe/Moscow").trigger()
    started = datetime(2026, 1, 2, 4, 0, tzinfo=UTC)  # 07:00 in Moscow, 7 h after midnight

    assert catch_up_day(trigger, zone=MOSCOW, now=started, grace=SIX_HOURS) is None


def test_older_missed_days_are_never_caught_up() -> None:
    trigger = settings().trigger()
    started = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # down since 1 January

    day = catch_up_day(trigger, zone=ZoneInfo("UTC"), now=started, grace=timedelta(hours=23))

    assert day == date(2026, 1, 4)


def _job(config: SchedulerSettings) -> DigestJob:
    return DigestJob(settings=config, session_factory=async_sessionmaker())


async def test_scheduler_runs_the_digest_at_once_when_a_catch_up_is_due() -> None:
    config = settings(digest_grace_seconds=3600)
    now = datetime(2026, 1, 2, 0, 30, tzinfo=UTC)  # half an hour after a missed midnight
    scheduler = build_scheduler(settings=config, job=_job(config), now=now)
    scheduler.start(paused=True)
    try:
        assert scheduler.get_job(DIGEST_JOB_ID).next_run_time == now
    finally:
        scheduler.shutdown(wait=False)


async def test_scheduler_waits_for_the_next_midnight_when_no_catch_up_is_due() -> None:
    config = settings(digest_timezone="Europe/Moscow", digest_grace_seconds=3600)
    noon_in_moscow = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    scheduler = build_scheduler(settings=config, job=_job(config), now=noon_in_moscow)
    scheduler.start(paused=True)  # APScheduler plans the first run from the real clock
    try:
        next_run = scheduler.get_job(DIGEST_JOB_ID).next_run_time
    finally:
        scheduler.shutdown(wait=False)

    assert next_run > datetime.now(UTC)
    assert next_run.astimezone(MOSCOW).time().isoformat() == "00:00:00"
