"""The relay's side of the outbox table: claim, mark, park, purge and count, and nothing else.

`OutboxStore` is what the forwarder, the purge and the gauges need; `PostgresOutboxStore` is the
one implementation, the only module of the relay that holds SQL for the outbox. (What writers
insert is `app.core.outbox`.) Unit tests use an in-memory fake of the same Protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# Claimed by state (`published_at IS NULL`), never after an `id > last_seen` cursor: ids are
# taken at insert but become visible at commit, out of order. The partial index
# ix_outbox_unpublished serves exactly this WHERE and ORDER BY.
CLAIM = text(
    """
    SELECT id, event_id::text AS event_id, topic, key, type, payload::text AS value, headers,
           extract(epoch FROM created_at) AS created
    FROM outbox
    WHERE published_at IS NULL AND parked_at IS NULL
    ORDER BY id
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
    """
)
MARK_PUBLISHED = text("UPDATE outbox SET published_at = now() WHERE id = ANY(:ids)")
RECORD_FAILURE = text(
    """
    UPDATE outbox
    SET attempts = attempts + 1, last_error = :error,
        parked_at = CASE WHEN attempts + 1 >= :max_attempts THEN now() END
    WHERE id = :id
    RETURNING attempts, parked_at IS NOT NULL AS parked
    """
)
# Small batches keep each transaction short: the relay's claims and the writers never wait on
# a purge. Parked rows are never purged (published_at stays NULL); an operator decides on them.
PURGE = text(
    """
    DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox
        WHERE published_at < now() - make_interval(secs => :retention)
        ORDER BY published_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED)
    RETURNING id
    """
)
BACKLOG = text(
    """
    SELECT count(*) FILTER (WHERE parked_at IS NULL) AS unpublished,
           coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)),
                    0) AS oldest_age,
           count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
    FROM outbox WHERE published_at IS NULL
    """
)


class ClaimedRow(NamedTuple):
    """One claimed outbox row, as the relay needs it; the fields are `CLAIM`'s column names."""

    id: int
    event_id: str
    topic: str
    key: str
    type: str
    value: str  # the stored payload JSON, sent as is
    headers: dict[str, str] | None  # recorded with the row, e.g. a traceparent
    created: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A row's state after a permanent failure was recorded."""

    attempts: int
    parked: bool


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits: rows not yet published, the age of the oldest one, rows parked."""

    unpublished: int
    oldest_age: float
    parked: int


class ClaimedBatch(Protocol):
    """Rows locked by one claim transaction; what is marked here commits when the claim ends."""

    @property
    def rows(self) -> Sequence[ClaimedRow]: ...

    async def mark_published(self, ids: Sequence[int]) -> None: ...

    async def record_failure(
        self, row_id: int, *, error: str, max_attempts: int
    ) -> FailureRecord: ...


class OutboxStore(Protocol):
    def claim(self, limit: int) -> AbstractAsyncContextManager[ClaimedBatch]:
        """Lock up to `limit` unpublished rows in id order; commit on exit, roll back on error."""
        ...

    async def purge(self, *, retention_seconds: float, limit: int) -> int:
        """Delete up to `limit` rows published longer ago than the retention; how many."""
        ...

    async def backlog(self) -> Backlog: ...


#: Checks, inside the claim transaction, that this process may still publish.
type Fence = Callable[[AsyncSession], Awaitable[None]]


class _PostgresBatch:
    def __init__(self, session: AsyncSession, rows: Sequence[ClaimedRow]) -> None:
        self._session = session
        self.rows = rows

    async def mark_published(self, ids: Sequence[int]) -> None:
        await self._session.execute(MARK_PUBLISHED, {"ids": list(ids)})

    async def record_failure(self, row_id: int, *, error: str, max_attempts: int) -> FailureRecord:
        params = {"id": row_id, "error": error, "max_attempts": max_attempts}
        row = (await self._session.execute(RECORD_FAILURE, params)).one()
        return FailureRecord(attempts=row.attempts, parked=row.parked)


class PostgresOutboxStore:
    """The outbox in PostgreSQL; `fence` runs first in every claim transaction."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, fence: Fence | None = None
    ) -> None:
        self._session_factory = session_factory
        self._fence = fence

    @asynccontextmanager
    async def claim(self, limit: int) -> AsyncIterator[ClaimedBatch]:
        async with self._session_factory() as session, session.begin():
            if self._fence is not None:
                await self._fence(session)
            result = await session.execute(CLAIM, {"batch": limit})
            _check_columns(tuple(result.keys()))
            # Tuples straight from the driver, named by the checked columns: a dataclass per
            # row would cost the relay a few per cent of its drain rate.
            yield _PostgresBatch(session, [ClaimedRow._make(row) for row in result.all()])

    async def purge(self, *, retention_seconds: float, limit: int) -> int:
        async with self._session_factory() as session, session.begin():
            params = {"retention": retention_seconds, "batch": limit}
            return len((await session.execute(PURGE, params)).all())

    async def backlog(self) -> Backlog:
        async with self._session_factory() as session:
            row = (await session.execute(BACKLOG)).one()
        return Backlog(
            unpublished=row.unpublished, oldest_age=float(row.oldest_age), parked=row.parked
        )


def _check_columns(columns: tuple[Any, ...]) -> None:
    if columns != ClaimedRow._fields:
        msg = f"the claim's columns {columns} are not ClaimedRow's {ClaimedRow._fields}"
        raise RuntimeError(msg)
