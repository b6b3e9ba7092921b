"""One active relay at a time: a PostgreSQL session advisory lock held on a dedicated connection.

PostgreSQL releases a session lock the moment the session ends, so a leader that dies (even by
SIGKILL: the kernel closes its socket) hands the lock to the next standby poll. A leader whose
lock connection drops stops publishing at once, and every claim transaction re-checks in
`pg_locks` that the lock is still held by this process's lock session.
"""

from __future__ import annotations

import asyncio

import psycopg
import structlog
from psycopg.conninfo import make_conninfo
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from relay.waits import wait_any

log = structlog.get_logger(__name__)

#: Detect a silently dead peer within ~10 s instead of the kernel's two hours.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 4,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}
HOLDS_LOCK = text(
    """
    SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND pid = :pid AND objsubid = 1
          AND classid::bigint = :hi AND objid::bigint = :lo)
    """
)


class LeadershipLostError(Exception):
    """Another relay may be publishing now: stop at once, abandon the batch."""


class Leadership:
    """Take, hold, watch and release the relay lock."""

    def __init__(self, conninfo: str, *, key: int, poll_interval: float) -> None:
        self._conninfo = conninfo
        self._key = key
        self._poll_interval = poll_interval
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._leading = False

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend that holds the lock while we lead."""
        return self._conn.info.backend_pid if self._leading and self._conn else None

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Poll until the lock is ours (True) or stop is set (False)."""
        while not stop.is_set():
            try:
                if self._conn is None or self._conn.closed:
                    conninfo = make_conninfo(self._conninfo, **KEEPALIVES)
                    self._conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
                cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", [self._key])
                row = await cursor.fetchone()
                if row is not None and row[0] is True:
                    self._leading = True
                    log.info("relay lock taken: leading", backend_pid=self.backend_pid)
                    return True
            except psycopg.OperationalError as exc:
                log.warning("relay lock connection failed", error=str(exc))
                await self.release()
            await wait_any(stop, seconds=self._poll_interval)
        return False

    async def watch(self) -> None:
        """Return as soon as the lock connection is gone, and with it the lock."""
        conn = self._conn
        assert conn is not None
        try:
            # Waiting for notifications reads the socket: an EOF or reset surfaces here at once.
            async for _ in conn.notifies():
                pass
        except psycopg.OperationalError as exc:
            log.error("relay lock connection lost: stop publishing", error=str(exc))
        self._leading = False

    async def verify(self, session: AsyncSession) -> None:
        """Claim-transaction fence: raise LeadershipLostError unless our lock is still held."""
        pid = self.backend_pid
        hi, lo = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF
        held = pid is not None and bool(
            (await session.execute(HOLDS_LOCK, {"pid": pid, "hi": hi, "lo": lo})).scalar()
        )
        if not held:
            self._leading = False
            raise LeadershipLostError

    async def release(self) -> None:
        """Close the lock connection; PostgreSQL drops the lock with the session."""
        conn, self._conn, self._leading = self._conn, None, False
        if conn is not None and not conn.closed:
            await conn.close()
