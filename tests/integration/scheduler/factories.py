"""Users and tasks written straight into PostgreSQL, with defaults for everything a test ignores."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.models import Task, User

_sequence = itertools.count(1)
BASE_TIME = datetime(2025, 12, 31, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class TaskSpec:
    title: str
    done: bool = False
    created_at: datetime | None = None


def open_tasks(count: int, *, prefix: str = "open") -> list[TaskSpec]:
    """`count` undone tasks created a minute apart, so their order is known."""
    return [
        TaskSpec(f"{prefix} {n}", created_at=BASE_TIME + timedelta(minutes=n)) for n in range(count)
    ]


async def create_user(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    tasks: Sequence[TaskSpec] = (),
    email: str | None = None,
    user_id: uuid.UUID | None = None,
    timezone: str = "UTC",
    digest_enabled: bool = True,
) -> User:
    """One user with the given tasks, committed."""
    number = next(_sequence)
    user = User(
        id=user_id or uuid.uuid4(),
        email=email or f"user{number}@example.com",
        password_hash="not-a-real-hash",
        created_at=BASE_TIME,
        timezone=timezone,
        digest_enabled=digest_enabled,
    )
    async with session_factory() as session, session.begin():
        session.add(user)
        await session.flush()
        if tasks:
            await session.execute(
                insert(Task),
                [
                    {
                        "id": uuid.uuid4(),
                        "user_id": user.id,
                        "title": spec.title,
                        "done": spec.done,
                        "created_at": spec.created_at or BASE_TIME,
                        "done_at": BASE_TIME if spec.done else None,
                    }
                    for spec in tasks
                ],
            )
    return user


async def create_users(
    session_factory: async_sessionmaker[AsyncSession],
    count: int,
    *,
    tasks: int = 0,
    timezone: str = "UTC",
) -> list[User]:
    """`count` users with `tasks` undone tasks each."""
    return [
        await create_user(session_factory, tasks=open_tasks(tasks), timezone=timezone)
        for _ in range(count)
    ]


def zone_past_midnight(now: datetime) -> tuple[str, date]:
    """A fixed-offset zone where it is now between 00:00 and 01:00, and the day that just ended.

    For tests of the real daemon, whose first tick covers the last DIGEST_GRACE_SECONDS of the
    real clock: with a grace of two hours its users are due, whatever time the test runs.
    """
    ahead = (24 - now.hour) % 24  # hours to add to UTC to reach local midnight
    offset = ahead if ahead <= 14 else ahead - 24
    # POSIX-style names: Etc/GMT-14 is 14 hours AHEAD of UTC.
    name = "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    local = now.astimezone(ZoneInfo(name))
    assert local.hour == 0, (name, local)
    return name, local.date() - timedelta(days=1)
