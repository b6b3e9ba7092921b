"""The digest job against real PostgreSQL: content, idempotence, concurrency, crash and paging."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.events import DailyDigestRequested
from scheduler.digest import DigestOptions, digest_pages, run_digest
from tests.integration.scheduler.conftest import ReadDigests
from tests.integration.scheduler.factories import (
    BASE_TIME,
    TaskSpec,
    create_user,
    create_users,
    open_tasks,
)

pytestmark = pytest.mark.integration

DAY = date(2026, 1, 1)
TRICKY_TITLES = [
    'Robert"); DROP TABLE tasks;--',
    "<script>alert('x')</script> & <b>bold</b>",
    "Ünïcödé задача 任务 🎉",
    "{braces,commas} and \\backslash\\",
    "NULL",
    "  spaced  ",
]


async def test_each_user_gets_exact_stats_and_oldest_undone_titles(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    idle = await create_user(session_factory)
    finished = await create_user(session_factory, tasks=[TaskSpec("a", done=True)] * 3)
    tricky = await create_user(
        session_factory,
        tasks=[
            TaskSpec(title, created_at=BASE_TIME + timedelta(hours=n))
            for n, title in enumerate(TRICKY_TITLES)
        ]
        + [TaskSpec("done one", done=True)],
    )

    result = await run_digest(session_factory=session_factory, day=DAY, options=DigestOptions())

    assert (result.users, result.enqueued, result.existing) == (3, 3, 0)
    by_user = {d.event.user_id: d.event for d in await read_digests()}
    assert by_user[idle.id].stats.model_dump() == {"total": 0, "done": 0, "undone": 0}
    assert by_user[idle.id].undone_titles == []
    assert by_user[finished.id].stats.model_dump() == {"total": 3, "done": 3, "undone": 0}
    assert by_user[finished.id].undone_titles == []
    assert by_user[tricky.id].stats.model_dump() == {"total": 7, "done": 1, "undone": 6}
    assert by_user[tricky.id].undone_titles == TRICKY_TITLES
    assert by_user[tricky.id].email == tricky.email


async def test_outbox_row_is_keyed_by_user_and_identified_by_user_and_day(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    user = await create_user(session_factory, tasks=open_tasks(1))

    await run_digest(session_factory=session_factory, day=DAY, options=DigestOptions(topic="t1"))

    [digest] = await read_digests()
    assert digest.row.event_id == DailyDigestRequested.id_for(user.id, DAY)
    assert digest.event.event_id == digest.row.event_id
    assert (digest.row.key, digest.row.topic) == (str(user.id), "t1")
    assert digest.row.type == "email.daily_digest.requested"
    assert digest.row.published_at is None


async def test_titles_are_capped_but_counts_stay_exact(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    # Created newest first, so only the ORDER BY can put them oldest first.
    tasks = list(reversed(open_tasks(120))) + [TaskSpec("done", done=True)] * 5
    await create_user(session_factory, tasks=tasks)

    await run_digest(session_factory=session_factory, day=DAY, options=DigestOptions(max_titles=7))

    [digest] = await read_digests()
    assert digest.event.stats.model_dump() == {"total": 125, "done": 5, "undone": 120}
    assert digest.event.undone_titles == [f"open {n}" for n in range(7)]


async def test_titles_created_at_the_same_moment_keep_a_stable_order(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    await create_user(session_factory, tasks=[TaskSpec(f"same {n}") for n in range(5)])

    await run_digest(session_factory=session_factory, day=DAY, options=DigestOptions(max_titles=3))
    first = (await read_digests())[0].event.undone_titles
    await run_digest(
        session_factory=session_factory,
        day=DAY + timedelta(days=1),
        options=DigestOptions(max_titles=3),
    )
    second = (await read_digests())[1].event.undone_titles

    assert first == second
    assert len(first) == 3


async def test_a_second_run_for_the_same_day_enqueues_nothing(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    await create_users(session_factory, 5, tasks=2)
    options = DigestOptions(page_size=2)

    first = await run_digest(session_factory=session_factory, day=DAY, options=options)
    again = await run_digest(session_factory=session_factory, day=DAY, options=options)

    assert (first.enqueued, first.existing) == (5, 0)
    assert (again.enqueued, again.existing) == (0, 5)
    assert len(await read_digests()) == 5


async def test_the_next_day_gets_digests_of_its_own(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    await create_users(session_factory, 3)

    await run_digest(session_factory=session_factory, day=DAY, options=DigestOptions())
    later = await run_digest(
        session_factory=session_factory, day=DAY + timedelta(days=1), options=DigestOptions()
    )

    assert later.enqueued == 3
    assert len({d.event.event_id for d in await read_digests()}) == 6


async def test_two_concurrent_runs_write_exactly_one_digest_per_user(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    users = await create_users(session_factory, 30, tasks=1)
    options = DigestOptions(page_size=4)

    results = await asyncio.gather(
        run_digest(session_factory=session_factory, day=DAY, options=options),
        run_digest(session_factory=session_factory, day=DAY, options=options),
    )

    assert sum(r.enqueued for r in results) == 30
    assert sum(r.existing for r in results) == 30
    digests = await read_digests()
    assert sorted(d.event.user_id for d in digests) == sorted(u.id for u in users)


async def test_a_run_that_died_after_its_first_page_is_completed_by_the_next_run(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    users = await create_users(session_factory, 10)
    options = DigestOptions(page_size=3)

    crashed = digest_pages(session_factory=session_factory, day=DAY, options=options)
    first_page = await anext(crashed)
    await crashed.aclose()  # the process dies here: the first page is committed, nothing else
    assert len(await read_digests()) == first_page.enqueued == 3

    rerun = await run_digest(session_factory=session_factory, day=DAY, options=options)

    assert (rerun.enqueued, rerun.existing) == (7, 3)
    assert sorted(d.event.user_id for d in await read_digests()) == sorted(u.id for u in users)


@pytest.mark.parametrize("user_count", [1, 8, 9])
async def test_keyset_pages_cover_every_user_exactly_once(
    db: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    read_digests: ReadDigests,
    user_count: int,
) -> None:
    users = await create_users(session_factory, user_count)

    pages = [
        page
        async for page in digest_pages(
            session_factory=session_factory, day=DAY, options=DigestOptions(page_size=4)
        )
    ]

    assert [p.users for p in pages] == [4] * (user_count // 4) + (
        [user_count % 4] if user_count % 4 else []
    )
    assert [p.last_user_id for p in pages] == sorted(p.last_user_id for p in pages)
    assert sorted(d.event.user_id for d in await read_digests()) == sorted(u.id for u in users)


async def test_users_without_tasks_are_skipped_when_empty_digests_are_off(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], read_digests: ReadDigests
) -> None:
    await create_users(session_factory, 3)
    busy = await create_user(session_factory, tasks=[TaskSpec("x", done=True)])

    result = await run_digest(
        session_factory=session_factory,
        day=DAY,
        options=DigestOptions(include_empty=False, page_size=2),
    )

    assert (result.users, result.enqueued, result.existing, result.skipped) == (4, 1, 0, 3)
    assert [d.event.user_id for d in await read_digests()] == [busy.id]


async def test_a_run_that_writes_digests_wakes_the_relay(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await create_users(session_factory, 2)
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as listener:
        await listener.execute("LISTEN outbox")

        await run_digest(session_factory=session_factory, day=DAY, options=DigestOptions())

        notices = [n.channel async for n in listener.notifies(timeout=10, stop_after=1)]
    assert notices == ["outbox"]


async def test_the_only_unique_key_a_digest_insert_can_collide_on_is_event_id(
    db: AsyncEngine,
) -> None:
    # The digest INSERT says ON CONFLICT DO NOTHING without a target (it needs no SELECT grant
    # that way); that is only right while no other unique index could swallow a new digest.
    async with db.connect() as conn:
        unique = (
            await conn.execute(
                text(
                    "SELECT array_agg(a.attname ORDER BY a.attname) AS columns "
                    "FROM pg_index AS i JOIN pg_attribute AS a "
                    "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                    "WHERE i.indrelid = 'outbox'::regclass AND i.indisunique GROUP BY i.indexrelid"
                )
            )
        ).scalars()
        assert sorted(map(tuple, unique)) == [("event_id",), ("id",)]
