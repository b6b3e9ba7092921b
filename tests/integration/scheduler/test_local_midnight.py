"""Each user's digest at their own midnight, against real PostgreSQL: zones, DST, catch-up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.events import DailyDigestRequested
from scheduler.digest import DigestOptions, DueResult, run_digest, run_due_digests
from scheduler.due import TICK, Window
from tests.integration.scheduler.conftest import ReadDigests
from tests.integration.scheduler.factories import create_user, open_tasks
from tests.integration.scheduler.test_commands import run_command, scheduler_env

pytestmark = pytest.mark.integration

OPTIONS = DigestOptions()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


async def tick(
    session_factory: async_sessionmaker[AsyncSession],
    until: datetime,
    *,
    span: timedelta = TICK,
    options: DigestOptions = OPTIONS,
) -> DueResult:
    """What the daemon writes at `until`, having last run `span` earlier."""
    return await run_due_digests(
        session_factory=session_factory, window=Window.before(until, span), options=options
    )


def ids(user_id: Any, *days: date) -> set[Any]:
    return {DailyDigestRequested.id_for(user_id, day) for day in days}


async def event_ids(read_digests: ReadDigests) -> set[Any]:
    return {d.event.event_id for d in await read_digests()}


async def test_each_zone_is_written_only_at_its_own_midnight(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    tokyo = await create_user(session_factory, timezone="Asia/Tokyo", tasks=open_tasks(2))
    london = await create_user(session_factory, timezone="Europe/London")
    angeles = await create_user(session_factory, timezone="America/Los_Angeles")
    day = date(2026, 12, 1)

    at_tokyo = await tick(session_factory, utc(2026, 12, 1, 15, 0))  # 00:00 on 2 Dec in Tokyo
    assert await event_ids(read_digests) == ids(tokyo.id, day)
    between = await tick(session_factory, utc(2026, 12, 1, 15, 15))
    at_london = await tick(session_factory, utc(2026, 12, 2, 0, 0))
    at_angeles = await tick(session_factory, utc(2026, 12, 2, 8, 0))

    assert (at_tokyo.enqueued, between.enqueued, at_london.enqueued, at_angeles.enqueued) == (
        1,
        0,
        1,
        1,
    )
    assert between.users == 0
    assert await event_ids(read_digests) == (
        ids(tokyo.id, day) | ids(london.id, day) | ids(angeles.id, day)
    )
    [tokyo_digest] = [d for d in await read_digests() if d.event.user_id == tokyo.id]
    assert tokyo_digest.event.stats.undone == 2
    assert tokyo_digest.event.occurred_at == utc(2026, 12, 1, 15, 0)
    # Each row records the local day it covers, which the email shows whatever the mailer's zone.
    assert [d.row.headers["digest_day"] for d in await read_digests()] == ["2026-12-01"] * 3


async def test_a_second_tick_for_the_same_instant_writes_nothing_new(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    await create_user(session_factory, timezone="Asia/Tokyo")

    first = await tick(session_factory, utc(2026, 12, 1, 15, 0))
    again = await tick(session_factory, utc(2026, 12, 1, 15, 0), span=timedelta(hours=6))

    assert (first.enqueued, first.existing) == (1, 0)
    assert (again.enqueued, again.existing) == (0, 1)
    assert len(await read_digests()) == 1


@pytest.mark.parametrize(
    ("zone", "midnight"),
    [
        ("Pacific/Kiritimati", utc(2026, 12, 1, 10, 0)),  # +14:00
        ("Etc/GMT+12", utc(2026, 12, 2, 12, 0)),  # -12:00
        ("Asia/Kathmandu", utc(2026, 12, 1, 18, 15)),  # +05:45
        ("Pacific/Chatham", utc(2026, 12, 1, 10, 15)),  # +13:45 (summer; +12:45 in winter)
        ("Pacific/Chatham", utc(2026, 7, 1, 11, 15)),  # +12:45
    ],
)
async def test_extreme_and_odd_offsets_get_their_digest_at_their_midnight_tick(
    db: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    read_digests: ReadDigests,
    zone: str,
    midnight: datetime,
) -> None:
    user = await create_user(session_factory, timezone=zone)
    local_day = (midnight - timedelta(seconds=1)).astimezone(ZoneInfo(zone))

    before = await tick(session_factory, midnight - TICK)
    at = await tick(session_factory, midnight)
    after = await tick(session_factory, midnight + TICK)

    assert (before.enqueued, at.enqueued, after.enqueued) == (0, 1, 0)
    assert await event_ids(read_digests) == ids(user.id, local_day.date())


async def test_a_skipped_midnight_still_gives_the_day_one_digest_when_the_clocks_jump(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    # America/Havana, 8 March 2026: 23:59:59 -05:00, then 01:00 -04:00 (05:00 UTC).
    user = await create_user(session_factory, timezone="America/Havana")
    start = utc(2026, 3, 7, 12, 0)

    written = [
        (await tick(session_factory, start + TICK * n)).enqueued for n in range(1, 4 * 48 + 1)
    ]

    assert sum(written) == 2
    assert await event_ids(read_digests) == ids(user.id, date(2026, 3, 7), date(2026, 3, 8))


async def test_a_repeated_midnight_hour_gives_one_digest(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    # America/Havana, 1 November 2026: 00:00-01:00 happens twice.
    user = await create_user(session_factory, timezone="America/Havana")
    start = utc(2026, 11, 1, 2, 0)

    for n in range(1, 4 * 6 + 1):
        await tick(session_factory, start + TICK * n)

    assert await event_ids(read_digests) == ids(user.id, date(2026, 10, 31))


async def test_users_who_switched_the_digest_off_get_none_in_either_kind_of_run(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    await create_user(session_factory, timezone="Asia/Tokyo", digest_enabled=False)
    wants = await create_user(session_factory, timezone="Asia/Tokyo")

    at = await tick(session_factory, utc(2026, 12, 1, 15, 0))
    by_date = await run_digest(
        session_factory=session_factory, day=date(2026, 11, 1), options=OPTIONS
    )

    assert (at.users, by_date.users) == (1, 1)
    assert {d.event.user_id for d in await read_digests()} == {wants.id}


async def test_run_once_date_covers_every_zone(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    users = [
        await create_user(session_factory, timezone=zone)
        for zone in ("Pacific/Kiritimati", "Etc/GMT+12", "UTC", "Asia/Kathmandu")
    ]

    result = await run_digest(
        session_factory=session_factory, day=date(2026, 12, 1), options=OPTIONS
    )

    assert result.enqueued == 4
    assert await event_ids(read_digests) == set().union(
        *(ids(user.id, date(2026, 12, 1)) for user in users)
    )


async def test_moving_west_across_midnight_never_gives_a_second_digest_for_a_day(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    user = await create_user(session_factory, timezone="UTC")
    await tick(session_factory, utc(2026, 12, 2, 0, 0))  # 1 December ends in UTC
    async with db.begin() as conn:  # at 01:00 UTC the user moves to Los Angeles (17:00 there)
        await conn.execute(
            text("UPDATE users SET timezone = 'America/Los_Angeles' WHERE id = :id"),
            {"id": user.id},
        )

    again = await tick(session_factory, utc(2026, 12, 2, 8, 0))  # 1 December ends in LA

    assert (again.users, again.enqueued, again.existing) == (1, 0, 1)
    assert await event_ids(read_digests) == ids(user.id, date(2026, 12, 1))


async def test_moving_east_across_midnight_skips_that_one_day_as_documented(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    user = await create_user(session_factory, timezone="America/Los_Angeles")
    hourly = [utc(2026, 12, 1, 12, 0) + timedelta(hours=n) for n in range(1, 37)]
    for until in hourly[:8]:  # up to 20:00 UTC, noon of 1 December in Los Angeles
        await tick(session_factory, until, span=timedelta(hours=1))
    # The move to Tokyo, where it is already 05:00 on 2 December: Tokyo's 1 December ended at
    # 15:00 UTC, while the user was in Los Angeles, and Los Angeles' ends at 08:00 UTC, when
    # they are in Tokyo, so no tick ever finds them at the end of their 1 December.
    async with db.begin() as conn:
        await conn.execute(
            text("UPDATE users SET timezone = 'Asia/Tokyo' WHERE id = :id"), {"id": user.id}
        )
    for until in hourly[8:]:  # to 00:00 UTC on 3 December
        await tick(session_factory, until, span=timedelta(hours=1))

    assert await event_ids(read_digests) == ids(user.id, date(2026, 12, 2))


async def test_catching_up_after_an_outage_writes_every_zone_whose_midnight_was_missed(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    # Down from 20:00 to 01:30 UTC: Paris (23:00), London (00:00) and Moscow (21:00) missed it.
    paris = await create_user(session_factory, timezone="Europe/Paris")
    london = await create_user(session_factory, timezone="Europe/London")
    moscow = await create_user(session_factory, timezone="Europe/Moscow")
    tokyo = await create_user(session_factory, timezone="Asia/Tokyo")  # 15:00: before the outage
    new_york = await create_user(session_factory, timezone="America/New_York")  # 05:00: after

    result = await tick(session_factory, utc(2026, 12, 2, 1, 30), span=timedelta(hours=6))

    assert result.enqueued == 3
    day = date(2026, 12, 1)
    assert await event_ids(read_digests) == ids(paris.id, day) | ids(london.id, day) | ids(
        moscow.id, day
    )
    assert {tokyo.id, new_york.id}.isdisjoint({d.event.user_id for d in await read_digests()})


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the test's engine runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_a_tick_is_set_based_and_paged_with_no_query_per_user_or_per_zone(
    db: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    read_digests: ReadDigests,
    statements: list[str],
) -> None:
    # 00:00 UTC on 2 December is midnight in UTC, London, Lisbon, Abidjan, ... at once.
    zones = ("UTC", "Europe/London", "Europe/Lisbon", "Africa/Abidjan", "Atlantic/Reykjavik")
    users = [await create_user(session_factory, timezone=zone) for zone in zones for _ in range(3)]
    await create_user(session_factory, timezone="Asia/Tokyo")
    statements.clear()

    result = await tick(session_factory, utc(2026, 12, 2, 0, 0), options=DigestOptions(page_size=4))

    assert (result.users, result.enqueued) == (15, 15)
    selects = [s for s in statements if s.lstrip().startswith("WITH page")]
    inserts = [s for s in statements if s.lstrip().startswith("INSERT INTO outbox")]
    assert (len(selects), len(inserts)) == (4, 4)  # ceil(15 / 4) pages, one round trip each
    assert await event_ids(read_digests) == set().union(
        *(ids(u.id, date(2026, 12, 1)) for u in users)
    )


async def test_a_tick_where_nobodys_midnight_passed_asks_the_database_nothing(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], statements: list[str]
) -> None:
    await create_user(session_factory, timezone="UTC")
    statements.clear()

    result = await tick(session_factory, utc(2026, 12, 2, 0, 25), span=timedelta(minutes=15))

    assert (result.zones, result.users) == (0, 0)
    assert statements == []


async def test_run_once_at_prints_what_the_daemon_would_write_at_that_instant(
    db: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    read_digests: ReadDigests,
) -> None:
    tokyo = await create_user(session_factory, timezone="Asia/Tokyo")
    await create_user(session_factory, timezone="America/New_York")
    env = scheduler_env(database_url, DIGEST_GRACE_SECONDS="3600")

    first = await run_command(env, "run-once", "--at", "2026-12-01T15:00:00Z")
    again = await run_command(env, "run-once", "--at", "2026-12-01T15:30:00+00:00")

    assert first.returncode == 0, first.stderr
    zones = first.stdout.split()[2]
    assert first.stdout.split()[:2] == [
        "at=2026-12-01T15:00:00+00:00",
        "since=2026-12-01T14:00:00+00:00",
    ]
    assert zones.startswith("zones=")
    assert first.stdout.split()[3:] == ["users=1", "enqueued=1", "existing=0"]
    assert again.stdout.split()[3:] == ["users=1", "enqueued=0", "existing=1"]
    assert await event_ids(read_digests) == ids(tokyo.id, date(2026, 12, 1))


async def test_run_once_at_refuses_an_instant_without_an_offset(database_url: str) -> None:
    result = await run_command(
        scheduler_env(database_url), "run-once", "--at", "2026-12-01T15:00:00"
    )

    assert result.returncode == 2
    assert "no UTC offset" in result.stderr
