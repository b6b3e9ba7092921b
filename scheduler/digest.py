"""The digest job: one `email.daily_digest.requested` per user and day, written to the outbox.

Users are read in keyset-paginated pages (ordered by id); each page costs one aggregating query
and one multi-row INSERT in one transaction, so memory stays bounded by the page size and a crash
loses at most the page in flight. The event id is derived from (user, day), so every re-run,
second instance or crash recovery converges on exactly one digest per user and day.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import utcnow
from app.core.events import DailyDigestRequested, DigestStats
from app.core.outbox import DEFAULT_TOPIC, outbox_row

log = structlog.get_logger(__name__)

# One round trip per page. The LATERAL subqueries walk ix_tasks_user_id_done once per user of the
# page; a plain LEFT JOIN ... GROUP BY lets the planner hash-join the WHOLE tasks table on every
# page instead (measured: 120 ms vs 10 ms per 1,000 users with 1M tasks, and quadratic overall).
# The LIMIT inside the titles subquery keeps a user with 100k open tasks from building a 100k
# array just to slice it; the counts are computed separately and stay exact.
_PAGE_SQL = """
WITH page AS (
    SELECT u.id, u.email FROM users AS u {after} ORDER BY u.id LIMIT :page_size
)
SELECT p.id AS user_id, p.email, c.total, c.done, coalesce(o.titles, '{{}}') AS undone_titles
FROM page AS p
CROSS JOIN LATERAL (
    SELECT count(*) AS total, count(*) FILTER (WHERE t.done) AS done
    FROM tasks AS t WHERE t.user_id = p.id
) AS c
CROSS JOIN LATERAL (
    SELECT array_agg(oldest.title ORDER BY oldest.created_at, oldest.id) AS titles
    FROM (
        SELECT t.title, t.created_at, t.id FROM tasks AS t
        WHERE t.user_id = p.id AND NOT t.done
        ORDER BY t.created_at, t.id
        LIMIT :max_titles
    ) AS oldest
) AS o
ORDER BY p.id
"""
#: The outbox columns a digest fills, in `app.core.outbox.outbox_row`'s shape (a test keeps them
#: equal).
OUTBOX_COLUMNS = ("event_id", "topic", "key", "type", "payload", "occurred_at")

# The whole page in ONE statement: six array parameters instead of 6 x page-size scalars (measured
# 35% faster than an executemany and 10x faster than compiling a multi-row VALUES each page).
# No conflict target on purpose: `ON CONFLICT (event_id)` needs SELECT on outbox.event_id, because
# PostgreSQL reads the arbiter columns, while the bare form needs INSERT only. `event_id` is the
# only unique key a digest can collide on (`id` is GENERATED ALWAYS), which a test guards.
_INSERT_PAGE = text(
    """
INSERT INTO outbox (event_id, topic, key, type, payload, occurred_at)
SELECT * FROM unnest(
    CAST(:event_id AS uuid[]), CAST(:topic AS text[]), CAST(:key AS text[]),
    CAST(:type AS text[]), CAST(:payload AS jsonb[]), CAST(:occurred_at AS timestamptz[])
)
ON CONFLICT DO NOTHING
"""
).execution_options(preserve_rowcount=True)  # SQLAlchemy keeps an INSERT's rowcount only if asked

# Two fixed statements rather than `:after IS NULL OR id > :after`, which a generic (prepared)
# plan could not turn into an index range scan.
_FIRST_PAGE = text(_PAGE_SQL.format(after=""))
_NEXT_PAGE = text(_PAGE_SQL.format(after="WHERE u.id > :after"))


@dataclass(frozen=True, slots=True)
class DigestOptions:
    """How a run builds its digests (see `SchedulerSettings` for the meaning of each)."""

    max_titles: int = 50
    include_empty: bool = True
    page_size: int = 1000
    topic: str = DEFAULT_TOPIC


@dataclass(frozen=True, slots=True)
class PageResult:
    """What one committed page did."""

    users: int
    enqueued: int
    existing: int
    last_user_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class DigestResult:
    """What a whole run did: `enqueued` new digests, `existing` ones a previous run had written."""

    day: date
    users: int
    enqueued: int
    existing: int

    @property
    def skipped(self) -> int:
        """Users without any task, when empty digests are switched off."""
        return self.users - self.enqueued - self.existing


def build_digest(
    row: Any, *, day: date, occurred_at: datetime, max_titles: int
) -> DailyDigestRequested:
    """The event for one aggregated row (user_id, email, total, done, undone_titles)."""
    return DailyDigestRequested(
        event_id=DailyDigestRequested.id_for(row.user_id, day),
        occurred_at=occurred_at,
        user_id=row.user_id,
        email=row.email,
        stats=DigestStats(total=row.total, done=row.done, undone=row.total - row.done),
        undone_titles=list(row.undone_titles[:max_titles]),
    )


async def _insert_new(
    session: AsyncSession, events: Sequence[DailyDigestRequested], topic: str
) -> int:
    """Insert the events that are not in the outbox yet; returns how many were new."""
    if not events:
        return 0
    rows = [outbox_row(event, topic=topic) for event in events]
    columns = {name: [row[name] for row in rows] for name in OUTBOX_COLUMNS}
    columns["payload"] = [json.dumps(payload) for payload in columns["payload"]]
    # The outbox trigger wakes the relay (migration 0004).
    result = await session.execute(_INSERT_PAGE, columns)
    return cast("CursorResult[Any]", result).rowcount


async def digest_pages(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    day: date,
    options: DigestOptions,
    occurred_at: datetime | None = None,
) -> AsyncIterator[PageResult]:
    """Write the day's digests page by page, yielding after each page has committed."""
    occurred_at = occurred_at or utcnow()
    after: uuid.UUID | None = None
    while True:
        params: dict[str, object] = {
            "page_size": options.page_size,
            "max_titles": options.max_titles,
        }
        async with session_factory() as session, session.begin():
            if after is None:
                rows = (await session.execute(_FIRST_PAGE, params)).all()
            else:
                rows = (await session.execute(_NEXT_PAGE, {**params, "after": after})).all()
            if not rows:
                return
            events = [
                build_digest(row, day=day, occurred_at=occurred_at, max_titles=options.max_titles)
                for row in rows
                if options.include_empty or row.total > 0
            ]
            enqueued = await _insert_new(session, events, options.topic)
        after = rows[-1].user_id
        yield PageResult(
            users=len(rows),
            enqueued=enqueued,
            existing=len(events) - enqueued,
            last_user_id=after,
        )
        if len(rows) < options.page_size:
            return


async def run_digest(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    day: date,
    options: DigestOptions,
    occurred_at: datetime | None = None,
) -> DigestResult:
    """Write the day's digest requests for every user; safe to run again or concurrently."""
    users = enqueued = existing = 0
    pages = digest_pages(
        session_factory=session_factory, day=day, options=options, occurred_at=occurred_at
    )
    async for page in pages:
        users += page.users
        enqueued += page.enqueued
        existing += page.existing
        log.debug("digest page committed", day=day.isoformat(), users=page.users)
    result = DigestResult(day=day, users=users, enqueued=enqueued, existing=existing)
    log.info(
        "digest run finished",
        day=day.isoformat(),
        users=users,
        enqueued=enqueued,
        existing=existing,
        skipped=result.skipped,
    )
    return result
