"""Failed-login limits per email and per client address, counted in PostgreSQL.

A fixed window per key (`email:<address>` or `ip:<address>`): the first failure opens it, each
further failure inside it adds one, and at the limit logins for that key are refused until the
window ends. The counter is one atomic upsert, so every API worker shares it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.models import LoginAttempts
from app.settings import ApiSettings

PURGE_BATCH = 100


class LoginRateLimitedError(Exception):
    """Too many failed logins for this email or client address."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class LoginRateLimiter:
    max_failures_per_email: int
    max_failures_per_client: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> LoginRateLimiter:
        return cls(
            max_failures_per_email=settings.login_max_failures,
            max_failures_per_client=settings.login_max_failures_per_client,
            window=timedelta(seconds=settings.login_failure_window_seconds),
        )

    def limits(self, *, email: str, client: str) -> dict[str, int]:
        return {
            f"email:{email}": self.max_failures_per_email,
            f"ip:{client}": self.max_failures_per_client,
        }

    async def check(self, session: AsyncSession, *, email: str, client: str, now: datetime) -> None:
        """Raise `LoginRateLimitedError` while either key is at its limit."""
        limits = self.limits(email=email, client=client)
        rows = await session.execute(
            select(LoginAttempts).where(
                LoginAttempts.key.in_(limits),
                LoginAttempts.window_started_at > now - self.window,
            )
        )
        waits = [
            (row.window_started_at + self.window - now).total_seconds()
            for row in rows.scalars()
            if row.failures >= limits[row.key]
        ]
        if waits:
            raise LoginRateLimitedError(max(1, math.ceil(max(waits))))

    async def record_failure(
        self, session: AsyncSession, *, email: str, client: str, now: datetime
    ) -> None:
        """Count one failure against both keys (a new window if the old one has ended)."""
        expired = LoginAttempts.window_started_at <= now - self.window
        for key in self.limits(email=email, client=client):
            stmt = insert(LoginAttempts).values(key=key, failures=1, window_started_at=now)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[LoginAttempts.key],
                    set_={
                        "failures": case((expired, 1), else_=LoginAttempts.failures + 1),
                        "window_started_at": case(
                            (expired, now), else_=LoginAttempts.window_started_at
                        ),
                    },
                )
            )
        await self._purge_expired(session, now=now)

    async def clear_email(self, session: AsyncSession, *, email: str) -> None:
        """Forget an email's failures after a success; the client's count stays."""
        await session.execute(delete(LoginAttempts).where(LoginAttempts.key == f"email:{email}"))

    async def _purge_expired(self, session: AsyncSession, *, now: datetime) -> None:
        # Bounded so a failed login never pays for a large cleanup; enough to keep pace.
        stale = (
            select(LoginAttempts.key)
            .where(LoginAttempts.window_started_at <= now - self.window)
            .limit(PURGE_BATCH)
            .with_for_update(skip_locked=True)
        )
        await session.execute(delete(LoginAttempts).where(LoginAttempts.key.in_(stale)))
