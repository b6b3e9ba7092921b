"""Fixed-window limits counted in PostgreSQL: logins per email and per client, registrations.

A window per key (`email:<address>`, `ip:<address>`, `register-ip:<address>`,
`register:all`): the first attempt opens it, each further attempt inside it adds one, and past
the limit the key is refused until the window ends. Every API worker shares the counts.

Each attempt is counted *before* the work it guards (the password check, the hashing of a new
account) by one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, committed at once. The upsert
takes the key's row lock, so concurrent attempts get distinct counts: of 40 guesses released
together exactly `limit` see a count within the limit, and only those are checked. A separate
"check, then record the failure" let all 40 pass the check before any failure was recorded.
An advisory lock per email would serialise the attempts too, but would hold a connection for
the whole argon2 verification; the counter holds its lock for one statement. A successful
login takes its attempt back, so the counts are failures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.models import LoginAttempts
from app.settings import ApiSettings

PURGE_BATCH = 100
ALL_REGISTRATIONS = "register:all"


class RateLimitedError(Exception):
    """Too many attempts for a key; `detail` is what the client is told."""

    detail = "Too many requests; try again later"

    def __init__(self, retry_after_seconds: int, *, limit: str) -> None:
        super().__init__(f"{limit}: retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds
        self.limit = limit


class LoginRateLimitedError(RateLimitedError):
    """Too many failed logins for this email or client address."""

    detail = "Too many failed logins; try again later"


class RegistrationRateLimitedError(RateLimitedError):
    """Too many registrations from this address, or from everyone, in the window."""

    detail = "Too many registrations; try again later"


async def count_attempt(
    session: AsyncSession, *, key: str, now: datetime, window: timedelta
) -> tuple[int, datetime]:
    """Add one attempt to `key`'s window (a new window once the old one ended); its count now."""
    expired = LoginAttempts.window_started_at <= now - window
    new = insert(LoginAttempts).values(key=key, failures=1, window_started_at=now)
    stmt = new.on_conflict_do_update(
        index_elements=[LoginAttempts.key],
        set_={
            "failures": case((expired, 1), else_=LoginAttempts.failures + 1),
            "window_started_at": case((expired, now), else_=LoginAttempts.window_started_at),
        },
    ).returning(LoginAttempts.failures, LoginAttempts.window_started_at)
    row = (await session.execute(stmt)).one()
    return row.failures, row.window_started_at


async def count_attempts(
    session: AsyncSession, limits: dict[str, int], *, now: datetime, window: timedelta
) -> int | None:
    """Count one attempt against each key in turn; the seconds to wait once one is over.

    The first key past its limit ends the count, so a refused attempt spends nothing of the
    keys after it (one flooding address cannot use up the global budget). Keys are always
    taken in the same order, specific first and shared last, so two attempts never wait on
    each other's row locks in a cycle.
    """
    for key, limit in limits.items():
        count, started = await count_attempt(session, key=key, now=now, window=window)
        if count > limit:
            return max(1, math.ceil((started + window - now).total_seconds()))
    return None


async def purge_expired(session: AsyncSession, *, now: datetime, window: timedelta) -> None:
    """Drop a bounded batch of ended windows, so an attempt never pays for a large cleanup."""
    stale = (
        select(LoginAttempts.key)
        .where(LoginAttempts.window_started_at <= now - window)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    await session.execute(delete(LoginAttempts).where(LoginAttempts.key.in_(stale)))


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

    async def attempt(
        self, session: AsyncSession, *, email: str, client: str, now: datetime
    ) -> None:
        """Count this login against both keys; raise `LoginRateLimitedError` past a limit.

        The caller commits right after, before checking the password.
        """
        limits = self.limits(email=email, client=client)
        wait = await count_attempts(session, limits, now=now, window=self.window)
        if wait is not None:
            raise LoginRateLimitedError(wait, limit="login")

    async def succeeded(self, session: AsyncSession, *, email: str, client: str) -> None:
        """A success is no failure: forget the email's count and take one back from the client."""
        await session.execute(delete(LoginAttempts).where(LoginAttempts.key == f"email:{email}"))
        await session.execute(
            update(LoginAttempts)
            .where(LoginAttempts.key == f"ip:{client}")
            .values(failures=func.greatest(LoginAttempts.failures - 1, 0))
        )

    async def failed(self, session: AsyncSession, *, now: datetime) -> None:
        """The attempt stays counted; tidy up ended windows while we are here."""
        await purge_expired(session, now=now, window=self.window)


@dataclass(frozen=True, slots=True)
class RegistrationRateLimiter:
    """New accounts per client address, and for everyone together (a global budget)."""

    max_per_client: int
    max_total: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> RegistrationRateLimiter:
        return cls(
            max_per_client=settings.register_max_per_client,
            max_total=settings.register_max_total,
            window=timedelta(seconds=settings.register_window_seconds),
        )

    async def attempt(self, session: AsyncSession, *, client: str, now: datetime) -> None:
        """Count one registration; raise `RegistrationRateLimitedError` past either limit."""
        limits = {f"register-ip:{client}": self.max_per_client, ALL_REGISTRATIONS: self.max_total}
        wait = await count_attempts(session, limits, now=now, window=self.window)
        if wait is not None:
            raise RegistrationRateLimitedError(wait, limit="registration")
