"""The digest job: one `email.daily_digest.requested` per user and day, written to the outbox.

Users are read in keyset-paginated pages (ordered by id); each page costs one aggregating query
and one multi-row INSERT in one transaction, so memory stays bounded by the page size and a crash
loses at most the page in flight. The event id is derived from (user, day), so every re-run,
second instance or crash recovery converges on exactly one digest per user and day.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import utcnow
from app.core.envelope import DIGEST_DAY_HEADER
from app.core.events import DailyDigestRequested, DigestStats
from app.core.outbox import DEFAULT_TOPIC, insert_new, outbox_row
from app.core.tracing import internal_span
from scheduler.due import Window, due_zones

log = structlog.get_logger(__name__)

# One round trip per page. The LATERAL subqueries walk ix_tasks_user_id_done once per user of the
# page; a plain LEFT JOIN ... GROUP BY lets the planner hash-join the WHOLE tasks table on every
# page instead (measured: 120 ms vs 10 ms per 1,000 users with 1M tasks, and quadratic overall).
# The LIMIT inside the titles subquery keeps a user with 100k open tasks from building a 100k
# array just to slice it; the counts are computed separately and stay exact.
_PAGE_SQL = """
WITH page AS (
    SELECT u.id, u.email, u.timezone FROM users AS u
    WHERE u.digest_enabled {where} ORDER BY {order} LIMIT :page_size
)
SELECT p.id AS user_id, p.email, p.timezone, c.total, c.done,
       coalesce(o.titles, '{{}}') AS undone_titles
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
ORDER BY {order}
"""
# Two fixed statements per kind of run rather than `:after IS NULL OR id > :after`, which a
# generic (prepared) plan could not turn into an index range scan.
# `run-once --date`: every user who wants a digest, in id order (the primary key).
_FIRST_PAGE = text(_PAGE_SQL.format(where="", order="id"))
_NEXT_PAGE = text(_PAGE_SQL.format(where="AND u.id > :after", order="id"))
# A tick: the users of the few due zones, in (timezone, id) order, which is exactly the partial
# index ix_users_timezone_id (WHERE digest_enabled): an `= ANY` on its leading column is one
# ordered index scan that skips every zone not in the array, so a tick costs in proportion to the
# users due, not to all users, and one whose zones have nobody costs an index probe per zone.
_DUE_WHERE = "AND u.timezone = ANY(CAST(:zones AS text[]))"
_FIRST_DUE_PAGE = text(_PAGE_SQL.format(where=_DUE_WHERE, order="timezone, id"))
_NEXT_DUE_PAGE = text(
    _PAGE_SQL.format(
        where=f"{_DUE_WHERE} AND (u.timezone, u.id) > (:after_zone, :after)",
        order="timezone, id",
    )
)


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
class Counts:
    """Users read, digests written (`enqueued`) and found written by an earlier run (`existing`)."""

    users: int
    enqueued: int
    existing: int

    @property
    def skipped(self) -> int:
        """Users without any task, when empty digests are switched off."""
        return self.users - self.enqueued - self.existing


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestResult(Counts):
    """What a whole run for one day did."""

    day: date


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


@dataclass(frozen=True, slots=True)
class EveryUser:
    """`run-once --date`: day D for every user who wants a digest, whatever their zone."""

    day: date

    def first_page(self) -> tuple[TextClause, dict[str, object]]:
        return _FIRST_PAGE, {}

    def next_page(self, last: Any) -> tuple[TextClause, dict[str, object]]:
        return _NEXT_PAGE, {"after": last.user_id}

    def days_of(self, row: Any) -> Sequence[date]:
        return (self.day,)


@dataclass(frozen=True, slots=True)
class DueZones:
    """A tick: the users of each due zone, for the local day(s) that just ended there."""

    days: Mapping[str, Sequence[date]]

    def _zones(self) -> dict[str, object]:
        return {"zones": sorted(self.days)}

    def first_page(self) -> tuple[TextClause, dict[str, object]]:
        return _FIRST_DUE_PAGE, self._zones()

    def next_page(self, last: Any) -> tuple[TextClause, dict[str, object]]:
        return _NEXT_DUE_PAGE, {**self._zones(), "after_zone": last.timezone, "after": last.user_id}

    def days_of(self, row: Any) -> Sequence[date]:
        # A user whose zone changed between the page query and now is still in the row's zone.
        return self.days.get(row.timezone, ())


Selection = EveryUser | DueZones


async def digest_pages(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    day: date | None = None,
    options: DigestOptions,
    occurred_at: datetime | None = None,
    selection: Selection | None = None,
) -> AsyncGenerator[PageResult]:
    """Write the digests of `selection` (default: `day` for everyone) page by page.

    Yields after each page has committed.
    """
    if selection is None:
        if day is None:
            msg = "digest_pages needs a day or a selection"
            raise ValueError(msg)
        selection = EveryUser(day)
    if isinstance(selection, DueZones) and not selection.days:
        return  # nobody's midnight: not even a query
    occurred_at = occurred_at or utcnow()
    statement, extra = selection.first_page()
    while True:
        params: dict[str, object] = {
            "page_size": options.page_size,
            "max_titles": options.max_titles,
            **extra,
        }
        async with session_factory() as session, session.begin():
            rows = (await session.execute(statement, params)).all()
            if not rows:
                return
            events = [
                outbox_row(
                    build_digest(
                        row, day=due, occurred_at=occurred_at, max_titles=options.max_titles
                    ),
                    topic=options.topic,
                    headers={DIGEST_DAY_HEADER: due.isoformat()},
                )
                for row in rows
                if options.include_empty or row.total > 0
                for due in selection.days_of(row)
            ]
            # The outbox trigger wakes the relay (migration 0004).
            enqueued = await insert_new(session, events)
        last = rows[-1]
        yield PageResult(
            users=len(rows),
            enqueued=enqueued,
            existing=len(events) - enqueued,
            last_user_id=last.user_id,
        )
        if len(rows) < options.page_size:
            return
        statement, extra = selection.next_page(last)


async def _run(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    selection: Selection,
    options: DigestOptions,
    occurred_at: datetime | None,
) -> tuple[int, int, int]:
    users = enqueued = existing = 0
    # The run's span is current while the pages are written: every digest row records it as
    # its creation context, so each email's trace starts at the run that asked for it.
    with internal_span("digest run", {"digest.selection": type(selection).__name__}):
        pages = digest_pages(
            session_factory=session_factory,
            selection=selection,
            options=options,
            occurred_at=occurred_at,
        )
        async for page in pages:
            users += page.users
            enqueued += page.enqueued
            existing += page.existing
            log.debug("digest page committed", users=page.users)
    return users, enqueued, existing


async def run_digest(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    day: date,
    options: DigestOptions,
    occurred_at: datetime | None = None,
) -> DigestResult:
    """Write day `day`'s digest for every user who wants one; safe to run again or concurrently."""
    users, enqueued, existing = await _run(
        session_factory=session_factory,
        selection=EveryUser(day),
        options=options,
        occurred_at=occurred_at,
    )
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


@dataclass(frozen=True, slots=True, kw_only=True)
class DueResult(Counts):
    """What a tick did: the zones whose day ended in its window, and the digests written."""

    window: Window
    zones: int


async def run_due_digests(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    window: Window,
    options: DigestOptions,
    occurred_at: datetime | None = None,
) -> DueResult:
    """Write the digests of every user whose local day ended within `window`; idempotent."""
    due = due_zones(window)
    users, enqueued, existing = await _run(
        session_factory=session_factory,
        selection=DueZones(due),
        options=options,
        occurred_at=occurred_at or window.until,
    )
    result = DueResult(
        window=window, zones=len(due), users=users, enqueued=enqueued, existing=existing
    )
    log.info(
        "digest tick finished",
        since=window.since.isoformat(),
        until=window.until.isoformat(),
        zones=len(due),
        users=users,
        enqueued=enqueued,
        existing=existing,
        skipped=result.skipped,
    )
    return result
