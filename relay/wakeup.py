"""Wake the relay the moment a writer commits: LISTEN on the outbox channel, set an event."""

from __future__ import annotations

import asyncio

import psycopg
import structlog
from psycopg import sql
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_random_exponential

from app.core.outbox import OUTBOX_CHANNEL

log = structlog.get_logger(__name__)


class NotifyListener:
    """A dedicated autocommit connection that LISTENs; each notification sets `event`.

    The relay also polls on a timer, so a lost connection or a missed NOTIFY delays publication
    by at most one poll interval; it never loses an event.
    """

    def __init__(self, conninfo: str, event: asyncio.Event, *, backoff_max: float) -> None:
        self._conninfo = conninfo
        self._event = event
        self._backoff_max = backoff_max

    async def run(self) -> None:
        """Listen until cancelled, reconnecting with backoff after a lost connection."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(psycopg.OperationalError),
            wait=wait_random_exponential(multiplier=0.2, max=self._backoff_max),
            before_sleep=_log_reconnect,
        )
        await retrying(self._listen)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        async with conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(OUTBOX_CHANNEL)))
            # Rows may have been committed while nobody listened: look once.
            self._event.set()
            log.info("listening for outbox notifications", channel=OUTBOX_CHANNEL)
            async for _ in conn.notifies():
                self._event.set()


def _log_reconnect(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("LISTEN connection lost, reconnecting", error=str(exc))
