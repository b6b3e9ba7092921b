"""Housekeeping: delete published outbox rows after the retention period, in small batches."""

from __future__ import annotations

import asyncio

import structlog

from relay.store import OutboxStore

log = structlog.get_logger(__name__)


async def purge_published(store: OutboxStore, *, retention_seconds: float, batch_size: int) -> int:
    """Delete every published row older than the retention; returns how many were deleted."""
    total = 0
    while True:
        # One short transaction a batch: claims and writers never wait on a purge.
        deleted = await store.purge(retention_seconds=retention_seconds, limit=batch_size)
        total += deleted
        if deleted < batch_size:
            return total
        await asyncio.sleep(0)


async def purge_forever(
    store: OutboxStore, *, retention_seconds: float, batch_size: int, interval: float
) -> None:
    while True:
        try:
            deleted = await purge_published(
                store, retention_seconds=retention_seconds, batch_size=batch_size
            )
            if deleted:
                log.info("published outbox rows purged", count=deleted)
        except Exception as exc:  # housekeeping retries on its next round
            log.warning("outbox purge failed", error=str(exc))
        await asyncio.sleep(interval)
