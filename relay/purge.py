"""Housekeeping: delete published outbox rows after the retention period, in small batches."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)

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


async def purge_published(
    session_factory: async_sessionmaker[AsyncSession], *, retention_seconds: float, batch_size: int
) -> int:
    """Delete every published row older than the retention; returns how many were deleted."""
    total = 0
    while True:
        async with session_factory() as session, session.begin():
            params = {"retention": retention_seconds, "batch": batch_size}
            deleted = len((await session.execute(PURGE, params)).all())
        total += deleted
        if deleted < batch_size:
            return total
        await asyncio.sleep(0)


async def purge_forever(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    retention_seconds: float,
    batch_size: int,
    interval: float,
) -> None:
    while True:
        try:
            deleted = await purge_published(
                session_factory, retention_seconds=retention_seconds, batch_size=batch_size
            )
            if deleted:
                log.info("published outbox rows purged", count=deleted)
        except Exception as exc:  # housekeeping retries on its next round
            log.warning("outbox purge failed", error=str(exc))
        await asyncio.sleep(interval)
